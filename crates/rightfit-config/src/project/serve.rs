//! `[components.NAME.serve]`: which of a component's candidates the gateway answers with, who
//! shadows it and what it falls back to.

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
