//! `[gateway]` -> [`GatewayConfig`].

use toml::Spanned;

use super::locate::Locator;
use crate::project::error::ConfigError;
use crate::project::gateway::{Durability, GatewayAuth, GatewayConfig};
use crate::project::raw::RawGateway;

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
    if let Some(t) = &raw.header_timeout_s {
        let v = *t.get_ref();
        if !(v > 0.0 && v <= 3600.0) {
            return Err(at.invalid(
                t.span(),
                key("header_timeout_s"),
                format!("must be more than 0 and at most 3600 seconds, not {v}"),
            ));
        }
        out.header_timeout_s = v;
    }
    if let Some(n) = &raw.max_connections_per_client {
        let v = at_least_one(at, "max_connections_per_client", n, "connection")?;
        if v > 65_536 {
            return Err(at.invalid(
                n.span(),
                key("max_connections_per_client"),
                format!("{v} is out of range: between 1 and 65536"),
            ));
        }
        out.max_connections_per_client = v as usize;
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
    if let Some(d) = &raw.durability {
        out.durability = match d.get_ref().as_str() {
            "process" => Durability::Process,
            "power" => Durability::Power,
            "none" => Durability::None,
            other => {
                return Err(at.invalid(
                    d.span(),
                    key("durability"),
                    format!(
                        "unknown durability '{other}': expected \"process\" (survives a killed gateway), \"power\" (survives a power cut; a disk flush per request) or \"none\""
                    ),
                ));
            }
        };
    }
    if let Some(j) = &raw.journal {
        if j.get_ref().trim().is_empty() {
            return Err(at.invalid(
                j.span(),
                key("journal"),
                "an empty path: name a directory, or leave journal out to keep it beside the store",
            ));
        }
        // Resolved against the project file's directory by the caller.
        out.journal = Some(j.get_ref().into());
    }
    Ok(out)
}
