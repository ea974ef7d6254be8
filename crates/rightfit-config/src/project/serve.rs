//! `[components.NAME.serve]`: which of a component's candidates the gateway answers with, who
//! shadows it and what it falls back to. Every name is checked against the component's
//! candidates.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use super::raw::RawServe;
use super::validate::Locator;
use super::{Candidate, Component, ConfigError};

/// How the gateway serves one component.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServePolicy {
    /// Which candidate answers.
    pub route: Route,
    /// What keeps one caller on one candidate of a split (default [`Sticky::User`]).
    pub sticky: Sticky,
    /// Candidates run in the background on the same request, recorded and scored against the
    /// answer; never the route's own targets.
    pub shadow: Vec<String>,
    /// Share of requests shadowed, `0 < r <= 1` (default 1).
    pub shadow_rate: f64,
    /// Candidates tried in order when the chosen one errors or times out.
    pub fallback: Vec<String>,
    /// Per-attempt deadline, seconds; `None`: the gateway's `request_timeout_s`.
    pub timeout_s: Option<f64>,
}

/// Which candidate answers a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `candidate = "NAME"`: always this one.
    Pinned(String),
    /// `split = { "A" = 90, "B" = 10 }`: drawn by weight (a canary). Weights are > 0; the
    /// entries are sorted by candidate name whatever the file's order, so the same file always
    /// gives the same list (and the same draw for the same sticky key).
    Split(Vec<(String, u32)>),
}

/// What keeps one caller on one candidate of a split.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sticky {
    /// `"user"`: the OpenAI `user` field or Anthropic `metadata.user_id`.
    User,
    /// `"header:NAME"`: a request header; the name is lowercased.
    Header(String),
    /// `"none"`: each request is drawn afresh.
    None,
}

impl ServePolicy {
    /// Pinned to one candidate, every other key at its default.
    pub fn pinned(candidate: impl Into<String>) -> Self {
        Self {
            route: Route::Pinned(candidate.into()),
            sticky: Sticky::User,
            shadow: Vec::new(),
            shadow_rate: 1.0,
            fallback: Vec::new(),
            timeout_s: None,
        }
    }
}

impl Component {
    /// The component's serve policy: its `[components.NAME.serve]` table, or else pinned to
    /// `baseline` when set, otherwise to the first candidate (a validated component has at
    /// least one), with every other key at its default.
    pub fn serving(&self) -> ServePolicy {
        if let Some(policy) = &self.serve {
            return policy.clone();
        }
        let name = self
            .baseline
            .clone()
            .or_else(|| self.candidates.first().map(|c| c.name.clone()))
            .unwrap_or_default();
        ServePolicy::pinned(name)
    }
}

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
