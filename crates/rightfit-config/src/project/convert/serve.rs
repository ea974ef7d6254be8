//! `[components.NAME.serve]` -> [`ServePolicy`]: every name is checked against the component's
//! candidates.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use super::locate::Locator;
use crate::project::error::ConfigError;
use crate::project::raw::RawServe;
use crate::project::serve::{Route, ServePolicy, Sticky};
use crate::project::strategy::Candidate;

/// Is `name` one of the candidates? The error lists them.
fn known(
    at: &Locator<'_>,
    key: &str,
    span: Range<usize>,
    name: &str,
    candidates: &[Candidate],
) -> Result<(), ConfigError> {
    if candidates.iter().any(|c| c.name == name) {
        return Ok(());
    }
    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
    Err(at.invalid(
        span,
        key,
        format!(
            "no candidate '{name}' in this component (candidates: {})",
            names.join(", ")
        ),
    ))
}

/// A list of candidate names: each known, none twice.
fn names(
    at: &Locator<'_>,
    key: &str,
    list: Option<Vec<Spanned<String>>>,
    candidates: &[Candidate],
) -> Result<Vec<String>, ConfigError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for name in list.unwrap_or_default() {
        known(at, key, name.span(), name.get_ref(), candidates)?;
        if !seen.insert(name.get_ref().clone()) {
            return Err(at.invalid(
                name.span(),
                key,
                format!("'{}' is listed twice", name.get_ref()),
            ));
        }
        out.push(name.into_inner());
    }
    Ok(out)
}

/// A valid HTTP header name (RFC 9110 token), lowercased.
fn header_name(name: &str) -> Option<String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    (!name.is_empty() && name.chars().all(token)).then(|| name.to_ascii_lowercase())
}

/// `[components.NAME.serve]`, checked against the component's candidates.
pub(super) fn serve(
    at: &Locator<'_>,
    component: &str,
    raw: Spanned<RawServe>,
    candidates: &[Candidate],
) -> Result<ServePolicy, ConfigError> {
    let key = |k: &str| format!("components.{component}.serve.{k}");
    let span = raw.span();
    let raw = raw.into_inner();
    let route = match (raw.candidate, raw.split) {
        (Some(_), Some(split)) => {
            return Err(at.invalid(
                split.span(),
                key("split"),
                "give candidate (pinned) or split (weighted), not both",
            ));
        }
        (None, None) => {
            return Err(at.invalid(
                span,
                key("candidate"),
                "missing: candidate = \"NAME\" (pinned) or split = { \"NAME\" = 90, \"OTHER\" = 10 }",
            ));
        }
        (Some(c), None) => {
            known(at, &key("candidate"), c.span(), c.get_ref(), candidates)?;
            Route::Pinned(c.into_inner())
        }
        (None, Some(split)) => {
            let split_span = split.span();
            let entries = split.into_inner();
            if entries.is_empty() {
                return Err(at.invalid(
                    split_span,
                    key("split"),
                    "an empty split: give each candidate a weight, e.g. { \"NAME\" = 90, \"OTHER\" = 10 }",
                ));
            }
            let mut out = Vec::with_capacity(entries.len());
            // A BTreeMap: sorted by name, whatever the file's order.
            for (name, weight) in entries {
                known(at, &key("split"), weight.span(), &name, candidates)?;
                let w = u32::try_from(*weight.get_ref())
                    .ok()
                    .filter(|w| *w > 0)
                    .ok_or_else(|| {
                        at.invalid(
                            weight.span(),
                            key("split"),
                            format!(
                                "'{name}' has weight {}: weights are whole numbers from 1 to {} (leave a candidate out to send it nothing)",
                                weight.get_ref(),
                                u32::MAX
                            ),
                        )
                    })?;
                out.push((name, w));
            }
            Route::Split(out)
        }
    };
    let sticky = match &raw.sticky {
        None => Sticky::User,
        Some(s) => match s.get_ref().as_str() {
            "user" => Sticky::User,
            "none" => Sticky::None,
            other => match other.strip_prefix("header:").map(header_name) {
                Some(Some(h)) => Sticky::Header(h),
                Some(None) => {
                    return Err(at.invalid(
                        s.span(),
                        key("sticky"),
                        format!(
                            "'{other}' does not name a valid HTTP header: write header:NAME with letters, digits and -, e.g. \"header:x-session-id\""
                        ),
                    ));
                }
                None => {
                    return Err(at.invalid(
                        s.span(),
                        key("sticky"),
                        format!(
                            "unknown sticky '{other}': expected \"user\", \"none\" or \"header:NAME\""
                        ),
                    ));
                }
            },
        },
    };
    let shadow_spans: Vec<Range<usize>> = raw.shadow.iter().flatten().map(|s| s.span()).collect();
    let shadow = names(at, &key("shadow"), raw.shadow, candidates)?;
    let targets: Vec<&str> = match &route {
        Route::Pinned(c) => vec![c.as_str()],
        Route::Split(entries) => entries.iter().map(|(n, _)| n.as_str()).collect(),
    };
    if let Some((i, s)) = shadow
        .iter()
        .enumerate()
        .find(|(_, s)| targets.contains(&s.as_str()))
    {
        return Err(at.invalid(
            shadow_spans.get(i).cloned().unwrap_or(span),
            key("shadow"),
            format!(
                "'{s}' already answers (it is the route's target) and cannot shadow itself: remove it from shadow"
            ),
        ));
    }
    let shadow_rate = match &raw.shadow_rate {
        None => 1.0,
        Some(r) if shadow.is_empty() => {
            return Err(at.invalid(
                r.span(),
                key("shadow_rate"),
                "shadow_rate without shadow does nothing: list the candidates in shadow = [...] or remove it",
            ));
        }
        Some(r) => {
            let v = *r.get_ref();
            if !(v > 0.0 && v <= 1.0) {
                return Err(at.invalid(
                    r.span(),
                    key("shadow_rate"),
                    format!("{v} is not a share: shadow_rate is above 0 and at most 1"),
                ));
            }
            v
        }
    };
    let fallback = names(at, &key("fallback"), raw.fallback, candidates)?;
    let timeout_s = match &raw.timeout_s {
        None => None,
        Some(t) => {
            let v = *t.get_ref();
            if !(v > 0.0 && v.is_finite()) {
                return Err(at.invalid(
                    t.span(),
                    key("timeout_s"),
                    format!("must be a positive number of seconds, not {v}"),
                ));
            }
            Some(v)
        }
    };
    Ok(ServePolicy {
        route,
        sticky,
        shadow,
        shadow_rate,
        fallback,
        timeout_s,
    })
}
