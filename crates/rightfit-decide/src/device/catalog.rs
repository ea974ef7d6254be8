//! The built-in device profiles.

use super::DeviceProfile;

/// Every built-in profile.
pub fn catalogue() -> Vec<DeviceProfile> {
    todo!("device catalogue")
}

/// The profile with this id.
pub fn find(id: &str) -> Option<DeviceProfile> {
    catalogue().into_iter().find(|d| d.id == id)
}
