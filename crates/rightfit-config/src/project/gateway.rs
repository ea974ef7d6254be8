//! `[gateway]`: how `rightfit serve` listens, who may call it, and what its traffic log keeps.
//!
//! Read by the gateway crate (`rightfit-gateway`); per-component routing lives in
//! `[components.NAME.serve]` ([`super::ServePolicy`]).

use std::net::{Ipv4Addr, SocketAddr};

use toml::Spanned;

use super::ConfigError;
use super::raw::RawGateway;
use super::validate::Locator;

/// Default `listen`: loopback only, port 8787.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8787);

/// The validated `[gateway]` table. `Default` gives the defaults of a project without one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GatewayConfig {
    /// Address to listen on (default `127.0.0.1:8787`).
    pub listen: SocketAddr,
    /// Whether requests need a gateway key (default [`GatewayAuth::Keys`]).
    pub auth: GatewayAuth,
    /// Largest request body accepted, bytes (`body_limit_kb` × 1024; default 4096 KiB).
    pub body_limit_bytes: usize,
    /// Per-attempt deadline for a target when its component sets no `timeout_s`, seconds
    /// (default 120).
    pub request_timeout_s: f64,
    /// Keep request messages and outputs in the traffic log (default true).
    pub log_inputs: bool,
    /// Top-level request fields blanked in the logged params (default none).
    pub redact_fields: Vec<String>,
    /// Regular expressions (each checked to compile with the `regex` crate); their matches
    /// become `[redacted]` in logged messages and outputs (default none).
    pub redact_patterns: Vec<String>,
    /// The traffic writer flushes at least this often, milliseconds (default 200).
    pub flush_ms: u64,
    /// The traffic writer puts at most this many records in one transaction (default 256).
    pub batch: usize,
}

/// Who may call the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayAuth {
    /// `auth = "keys"`: every request carries a gateway key from `rightfit keys create`.
    Keys,
    /// `auth = "none"`: anyone who can reach the address may call it.
    None,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            auth: GatewayAuth::Keys,
            body_limit_bytes: 4096 * 1024,
            request_timeout_s: 120.0,
            log_inputs: true,
            redact_fields: Vec::new(),
            redact_patterns: Vec::new(),
            flush_ms: 200,
            batch: 256,
        }
    }
}

/// A positive integer key, or the error that names it.
fn at_least_one(
    at: &Locator<'_>,
    key: &str,
    value: &Spanned<i64>,
    unit: &str,
) -> Result<u64, ConfigError> {
    u64::try_from(*value.get_ref())
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            at.invalid(
                value.span(),
                format!("gateway.{key}"),
                format!("must be at least 1 {unit}, not {}", value.get_ref()),
            )
        })
}

/// `[gateway]` (absent: the defaults).
pub(super) fn gateway(
    at: &Locator<'_>,
    raw: Option<Spanned<RawGateway>>,
) -> Result<GatewayConfig, ConfigError> {
    let mut out = GatewayConfig::default();
    let Some(raw) = raw else {
        return Ok(out);
    };
    let raw = raw.into_inner();
    let key = |k: &str| format!("gateway.{k}");
    if let Some(listen) = &raw.listen {
        out.listen = listen.get_ref().parse().map_err(|e| {
            at.invalid(
                listen.span(),
                key("listen"),
                format!(
                    "'{}' is not an address ({e}): write IP:PORT, e.g. \"127.0.0.1:8787\" or \"0.0.0.0:8787\" (host names are not resolved)",
                    listen.get_ref()
                ),
            )
        })?;
    }
    if let Some(auth) = &raw.auth {
        out.auth = match auth.get_ref().as_str() {
            "keys" => GatewayAuth::Keys,
            "none" => GatewayAuth::None,
            other => {
                return Err(at.invalid(
                    auth.span(),
                    key("auth"),
                    format!("unknown auth '{other}': expected \"keys\" or \"none\""),
                ));
            }
        };
    }
    if let Some(written) = &raw.body_limit_kb {
        let kb = at_least_one(at, "body_limit_kb", written, "KiB")?;
        out.body_limit_bytes = usize::try_from(kb)
            .ok()
            .and_then(|kb| kb.checked_mul(1024))
            .ok_or_else(|| {
                at.invalid(
                    written.span(),
                    key("body_limit_kb"),
                    format!("{kb} KiB is more than this machine can address"),
                )
            })?;
    }
    if let Some(t) = &raw.request_timeout_s {
        let v = *t.get_ref();
        if !(v > 0.0 && v.is_finite()) {
            return Err(at.invalid(
                t.span(),
                key("request_timeout_s"),
                format!("must be a positive number of seconds, not {v}"),
            ));
        }
        out.request_timeout_s = v;
    }
    if let Some(log) = raw.log_inputs {
        out.log_inputs = log;
    }
    for (i, field) in raw.redact_fields.iter().flatten().enumerate() {
        if field.get_ref().trim().is_empty() {
            return Err(at.invalid(
                field.span(),
                key(&format!("redact_fields[{i}]")),
                "an empty field name: list top-level request fields, e.g. \"user\"",
            ));
        }
        out.redact_fields.push(field.get_ref().clone());
    }
    for (i, pattern) in raw.redact_patterns.iter().flatten().enumerate() {
        if let Err(e) = regex::Regex::new(pattern.get_ref()) {
            return Err(at.invalid(
                pattern.span(),
                key(&format!("redact_patterns[{i}]")),
                format!(
                    "'{}' is not a valid regular expression (Rust regex syntax; write it in '...' so backslashes stay): {e}",
                    pattern.get_ref()
                ),
            ));
        }
        out.redact_patterns.push(pattern.get_ref().clone());
    }
    if let Some(ms) = &raw.flush_ms {
        out.flush_ms = at_least_one(at, "flush_ms", ms, "millisecond")?;
    }
    if let Some(batch) = &raw.batch {
        let n = at_least_one(at, "batch", batch, "record")?;
        out.batch = usize::try_from(n).map_err(|_| {
            at.invalid(
                batch.span(),
                key("batch"),
                format!("{n} records is more than this machine can address"),
            )
        })?;
    }
    Ok(out)
}
