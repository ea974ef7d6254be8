//! Headless Chromium for a test: load a page, and get back the DOM after its scripts ran, every
//! console message and uncaught exception, every request it made, and a PNG screenshot.
//!
//! `scripts/test-tools` installs Debian's `chromium` package when it is missing and exports its
//! path as `RIGHTFIT_TEST_CHROMIUM`. The browser is driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: it reads commands from fd 3 and writes answers and events to
//! fd 4, each message a JSON text ended by a NUL byte), not by its `--dump-dom`/`--screenshot`
//! flags: with those, `--enable-logging` prints console messages without their level and leaves
//! out failed loads, and a net log mixes the browser's own traffic with the page's. The protocol
//! says exactly which console call, exception and request belongs to the page.
//!
//! Each load starts a fresh browser with an empty profile in a temporary directory and ends it.
//! The network is blocked as well as watched, twice over: every host, IP literals and loopback
//! included, resolves nowhere (`--host-resolver-rules`), every HTTP request goes to a dead proxy
//! (loopback included), and the browser's background services are off. A browser that hangs is killed when the load's
//! timeout (60 s by default) runs out, and the load is an error. Synchronous, std only.

mod page;
mod pipe;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use page::{ConsoleMessage, LoadOptions, PageLoad};
use pipe::Browser;

/// The Chromium binary `scripts/test-tools` found or installed.
pub const BINARY_VAR: &str = rightfit_config::env::TEST_CHROMIUM;
/// How long one load may take, browser start and exit included (a load takes about a second).
const TIMEOUT: Duration = Duration::from_secs(60);

/// A Chromium binary to load pages with.
#[derive(Debug, Clone)]
pub struct Chromium {
    binary: PathBuf,
    timeout: Duration,
}

impl Chromium {
    /// The browser at `binary` (Debian's `/usr/bin/chromium`, or the binary itself).
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            timeout: TIMEOUT,
        }
    }

    /// The browser in `RIGHTFIT_TEST_CHROMIUM`.
    ///
    /// # Panics
    /// When the variable is unset or names a missing file: run the tests with `scripts/test`,
    /// or `eval "$(scripts/test-tools)"` first.
    pub fn from_env() -> Self {
        let Some(value) = std::env::var_os(BINARY_VAR).filter(|v| !v.is_empty()) else {
            panic!(
                "{BINARY_VAR} is not set: run the tests with scripts/test (scripts/test-tools \
                 installs Debian's chromium and prints the export), or set {BINARY_VAR}"
            );
        };
        let path = PathBuf::from(value);
        assert!(
            path.is_file(),
            "{BINARY_VAR}={}: no such file: run scripts/test-tools (it installs chromium)",
            path.display()
        );
        Self::new(path)
    }

    /// The same browser with another time limit per load.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Loads the HTML file at `path`, with `#fragment` appended when given.
    pub fn load_file(
        &self,
        path: &Path,
        fragment: Option<&str>,
        options: &LoadOptions,
    ) -> io::Result<PageLoad> {
        let path = path
            .canonicalize()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut url = file_url(&path);
        if let Some(f) = fragment {
            url.push('#');
            url.push_str(f);
        }
        self.load(&url, options)
    }

    /// Loads `url` in a fresh headless browser and waits for its load event and one more frame.
    ///
    /// An error when the browser cannot start, the page cannot be loaded, or the time limit runs
    /// out; the message quotes the browser's log.
    pub fn load(&self, url: &str, options: &LoadOptions) -> io::Result<PageLoad> {
        if !self.binary.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{}: no such file (is chromium installed?)",
                    self.binary.display()
                ),
            ));
        }
        let mut browser = Browser::start(&self.binary, options.window)?;
        let deadline = Instant::now() + self.timeout;
        match browser.load(url, options, deadline) {
            Ok(load) => {
                browser.close();
                Ok(load)
            }
            // Dropping the browser kills it and everything it started.
            Err(e) => Err(browser.failure(&self.binary, &e)),
        }
    }
}

/// `file://` and the absolute path, with the bytes a URL path cannot hold percent-encoded.
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_percent_encode_what_a_path_cannot_hold() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/r#1%.html")),
            "file:///tmp/a%20b/r%231%25.html"
        );
    }

    #[test]
    fn only_requests_that_leave_the_machine_count_as_network() {
        let load = PageLoad {
            url: "file:///r.html".into(),
            dom: String::new(),
            console: vec![],
            exceptions: vec![],
            requests: vec![
                "file:///r.html".into(),
                "data:image/png;base64,AAAA".into(),
                "http://127.0.0.1:9/x.png".into(),
                "https://example.com/".into(),
                "ws://h/".into(),
            ],
            screenshot: None,
        };
        assert_eq!(
            load.network_requests(),
            [
                "http://127.0.0.1:9/x.png",
                "https://example.com/",
                "ws://h/"
            ]
        );
    }

    #[test]
    fn with_timeout_replaces_the_default_limit() {
        let browser = Chromium::new("/nonexistent/chromium");
        assert_eq!(browser.timeout, TIMEOUT);
        let browser = browser.with_timeout(Duration::from_secs(5));
        assert_eq!(browser.timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_missing_binary_is_an_error_naming_it() {
        let err = Chromium::new("/nonexistent/chromium")
            .load("about:blank", &LoadOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/chromium"), "{err}");
    }

    #[test]
    fn a_browser_that_exits_at_once_is_an_error_not_a_hang() {
        // `true` ignores its arguments and exits 0 without opening the pipe.
        let err = Chromium::new("/bin/true")
            .with_timeout(Duration::from_secs(10))
            .load("about:blank", &LoadOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("closed its pipe"), "{err}");
    }
}
