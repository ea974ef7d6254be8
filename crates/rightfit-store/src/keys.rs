//! Making gateway keys: a secret from the operating system's random number generator, of which
//! only the SHA-256 ([`hash_secret`]) and a short display prefix are ever stored.
//!
//! The CLI (`rightfit keys create`) makes keys with [`new_key`]; the gateway hashes the secret a
//! client presents with [`hash_secret`] and looks the key up by that hash
//! ([`crate::TrafficStore::key_by_hash`]), so both sides hash the same way.

use rand_core::{OsRng, TryRngCore};
use rightfit_types::GatewayKey;
use sha2::{Digest, Sha256};

/// What every secret starts with, so that a leaked one can be recognised (secret scanners).
pub const SECRET_PREFIX: &str = "rf-";

/// Random bytes in a secret (256 bits), written as 64 lowercase hex digits.
const SECRET_BYTES: usize = 32;

/// Random bytes in a key's public id (`key_` and 16 hex digits).
const ID_BYTES: usize = 8;

/// Characters of the secret kept for display: `rf-` and 8 hex digits.
const DISPLAY_CHARS: usize = SECRET_PREFIX.len() + 8;

/// SHA-256 of `secret` (its UTF-8 bytes, exactly as given), as 64 lowercase hex digits: what
/// [`GatewayKey::hash`] holds.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A key's secret. Debug prints `***`, so that it cannot reach a log by accident; read it with
/// [`Secret::expose`], once, to show it to the person who made the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A key just made: what to store, and the secret to hand over once.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The key as stored: its hash and prefix, never the secret.
    pub key: GatewayKey,
    /// The secret; shown once, never stored.
    pub secret: Secret,
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The name is empty or only white space.
    #[error("a gateway key needs a name (given: '{0}')")]
    EmptyName(String),
    /// The budget is negative or not a finite number.
    #[error("the budget must be a finite number of US dollars, 0 or more (given: {0})")]
    InvalidBudget(f64),
    /// The operating system could not supply random bytes.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// Makes a key named `name`: a fresh secret (`rf-` and 64 hex digits from the operating system's
/// random number generator), its hash and display prefix, and a random public id (`key_...`,
/// not derived from the secret). Nothing is stored: put [`NewKey::key`] in a
/// [`crate::TrafficStore`].
pub fn new_key(
    name: &str,
    requests_per_minute: Option<u32>,
    budget_usd: Option<f64>,
    created_at: String,
) -> Result<NewKey, KeyError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(KeyError::EmptyName(name.to_owned()));
    }
    if let Some(budget) = budget_usd.filter(|b| !b.is_finite() || *b < 0.0) {
        return Err(KeyError::InvalidBudget(budget));
    }
    let secret = format!("{SECRET_PREFIX}{}", random_hex::<SECRET_BYTES>()?);
    let id = format!("key_{}", random_hex::<ID_BYTES>()?);
    let key = GatewayKey {
        id,
        name: name.to_owned(),
        hash: hash_secret(&secret),
        prefix: secret.chars().take(DISPLAY_CHARS).collect(),
        created_at,
        revoked_at: None,
        requests_per_minute,
        budget_usd,
        spent_usd: 0.0,
    };
    Ok(NewKey {
        key,
        secret: Secret(secret),
    })
}

/// `N` bytes from the operating system's CSPRNG, as lowercase hex.
fn random_hex<const N: usize>() -> Result<String, KeyError> {
    let mut bytes = [0u8; N];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_hex_of_the_exact_text() {
        // Known answers (FIPS 180-2 "abc"; `printf '' | sha256sum`).
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hash_secret(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(hash_secret("rf-a"), hash_secret("rf-a "));
    }

    #[test]
    fn a_new_key_stores_the_hash_and_prefix_of_a_fresh_secret() {
        let made = new_key(" ci ", Some(60), Some(5.0), "2026-11-30T03:42:07Z".into()).unwrap();
        let secret = made.secret.expose();
        assert!(secret.starts_with("rf-"), "{secret}");
        assert_eq!(secret.len(), 3 + 64);
        assert!(secret[3..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(made.key.hash, hash_secret(secret));
        assert_eq!(made.key.prefix, &secret[..11]);
        assert_eq!(made.key.name, "ci");
        assert!(made.key.id.starts_with("key_") && made.key.id.len() == 4 + 16);
        assert!(
            !secret.contains(&made.key.id[4..]),
            "the id is not part of the secret"
        );
        assert_eq!(made.key.requests_per_minute, Some(60));
        assert_eq!(made.key.budget_usd, Some(5.0));
        assert_eq!(made.key.spent_usd, 0.0);
        assert_eq!(made.key.revoked_at, None);

        let other = new_key("ci", None, None, String::new()).unwrap();
        assert_ne!(other.secret, made.secret);
        assert_ne!(other.key.id, made.key.id);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let made = new_key("ci", None, None, String::new()).unwrap();
        let shown = format!("{made:?}");
        assert!(shown.contains("***"), "{shown}");
        assert!(!shown.contains(made.secret.expose()), "{shown}");
    }

    #[test]
    fn bad_names_and_budgets_are_refused() {
        assert!(matches!(
            new_key("  ", None, None, String::new()),
            Err(KeyError::EmptyName(_))
        ));
        for budget in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                new_key("ci", None, Some(budget), String::new()),
                Err(KeyError::InvalidBudget(_))
            ));
        }
        assert!(new_key("ci", None, Some(0.0), String::new()).is_ok());
    }
}
