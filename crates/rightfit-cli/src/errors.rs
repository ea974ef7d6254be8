//! Which failures are the user's to fix (exit 1) and which are bugs (exit 2).

use rightfit_config::SettingsError;
use rightfit_llama::EngineError;
use rightfit_llama::fetch::FetchError;
use rightfit_llama::gguf::GgufError;
use rightfit_llama::models::ModelStoreError;
use rightfit_providers::ProviderError;

/// Marks an error as the user's to fix.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct UserError(#[from] anyhow::Error);

/// Wraps any error as a user error.
pub fn user(e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(UserError(e.into()))
}

/// 1 for problems with the user's input or environment, 2 for anything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let is_user = err.chain().any(|cause| {
        cause.is::<UserError>()
            || cause.is::<ModelStoreError>()
            || cause.is::<GgufError>()
            || cause.is::<FetchError>()
            || cause.is::<SettingsError>()
            || cause.is::<std::io::Error>()
            || cause
                .downcast_ref::<EngineError>()
                .is_some_and(|e| !matches!(e, EngineError::Stopped))
            || cause.downcast_ref::<ProviderError>().is_some_and(|e| {
                matches!(
                    e,
                    ProviderError::InvalidRequest { .. } | ProviderError::Unavailable { .. }
                )
            })
    });
    if is_user { 1 } else { 2 }
}
