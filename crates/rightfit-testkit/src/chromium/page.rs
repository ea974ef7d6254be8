//! What a page load is asked for ([`LoadOptions`]) and what it gives back ([`PageLoad`]).

/// How to load a page.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// The viewport, CSS pixels (width, height).
    pub window: (u32, u32),
    /// Take a PNG screenshot of the whole page (up to 16,000 pixels tall) after it settled.
    pub screenshot: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            window: (1280, 900),
            screenshot: false,
        }
    }
}

/// A console call, or an entry the browser logged for the page (a failed load, a violation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleMessage {
    /// `console.*` calls: the method's type (`log`, `info`, `warning`, `error`, `assert`, ...).
    /// Browser entries: their level (`verbose`, `info`, `warning`, `error`).
    pub level: String,
    /// `console` for a console call, else the entry's source (`network`, `javascript`,
    /// `violation`, ...).
    pub source: String,
    /// The message: a console call's arguments joined by spaces.
    pub text: String,
}

impl ConsoleMessage {
    /// An error or a warning (`console.error`, `console.warn`, a failed `console.assert`, a
    /// browser entry at level error or warning).
    pub fn is_problem(&self) -> bool {
        matches!(self.level.as_str(), "error" | "warning" | "assert")
    }
}

/// What loading a page gave.
#[derive(Debug, Clone)]
pub struct PageLoad {
    /// The URL loaded.
    pub url: String,
    /// `document.documentElement.outerHTML` once the load event fired and the page settled.
    pub dom: String,
    /// Every console call and browser entry, in order, every level.
    pub console: Vec<ConsoleMessage>,
    /// Every uncaught exception (and unhandled rejection), as the browser describes it.
    pub exceptions: Vec<String>,
    /// The URL of every request the page made, its own document included, in order.
    pub requests: Vec<String>,
    /// The PNG screenshot, when asked for.
    pub screenshot: Option<Vec<u8>>,
}

impl PageLoad {
    /// Console errors and warnings, and uncaught exceptions, one line each: empty for a clean
    /// page.
    pub fn problems(&self) -> Vec<String> {
        let console = self
            .console
            .iter()
            .filter(|m| m.is_problem())
            .map(|m| format!("{} {}: {}", m.source, m.level, m.text));
        let exceptions = self.exceptions.iter().map(|e| format!("exception: {e}"));
        console.chain(exceptions).collect()
    }

    /// The requests that would leave the machine: every URL whose scheme is not `file`, `data`,
    /// `about` or `blob`.
    pub fn network_requests(&self) -> Vec<&str> {
        self.requests
            .iter()
            .map(String::as_str)
            .filter(|u| {
                !["file:", "data:", "about:", "blob:"]
                    .iter()
                    .any(|s| u.starts_with(s))
            })
            .collect()
    }
}
