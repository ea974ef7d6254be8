//! One file from the Hugging Face Hub, or from a mirror of its HTTP interface (`HF_ENDPOINT`),
//! as a body to stream straight into the fetcher's assembly (which hashes it on the way; no
//! second copy in a cache). Connecting and every read have a timeout, so an unreachable or stalled Hub is an
//! error that says so, not a hang.

use std::io::{self, Read};
use std::time::Duration;

use rightfit_types::progress::Progress;

/// The Hub's address when none is configured.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// Where the Hub is and how to ask it.
pub(super) struct Hub<'a> {
    /// `HF_ENDPOINT` or [`DEFAULT_HF_ENDPOINT`].
    pub(super) endpoint: &'a str,
    /// For connecting and for every read.
    pub(super) timeout: Duration,
    /// `HF_TOKEN`, sent to the Hub only (not to the storage it redirects to).
    pub(super) token: Option<&'a str>,
}

/// Opens `repo`'s `file` at `revision` (`{endpoint}/{repo}/resolve/{revision}/{file}`, the Hub's
/// download URL, which redirects to its storage): the body, whose read errors name the URL, and
/// its length when the Hub gives one. The error says what failed and what to do.
pub(super) fn open(
    hub: &Hub<'_>,
    repo: &str,
    file: &str,
    revision: &str,
    progress: &dyn Progress,
) -> Result<(Box<dyn Read + Send>, Option<u64>), String> {
    let endpoint = hub.endpoint.trim_end_matches('/');
    let url = format!("{endpoint}/{repo}/resolve/{revision}/{file}");
    progress.note(&format!("downloading {url}"));
    let agent = ureq::AgentBuilder::new()
        .try_proxy_from_env(true)
        .timeout_connect(hub.timeout)
        .timeout_read(hub.timeout)
        .redirects(8)
        // The token goes to the Hub, not to the storage host it redirects to.
        .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
        .user_agent(concat!("rightfit/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut request = agent.get(&url);
    if let Some(token) = hub.token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = request
        .call()
        .map_err(|e| explain(&url, endpoint, hub.timeout, e))?;
    let len = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    let body = Named {
        inner: response.into_reader(),
        url,
    };
    Ok((Box::new(body), len))
}

/// What a failed request means, and what to do about it.
fn explain(url: &str, endpoint: &str, timeout: Duration, error: ureq::Error) -> String {
    match error {
        ureq::Error::Status(code @ (401 | 403), _) => format!(
            "{url}: HTTP {code} — the repository is gated or private: accept its terms on the Hub \
             and set HF_TOKEN"
        ),
        ureq::Error::Status(404, _) => format!(
            "{url}: HTTP 404 — no such repository, file or revision (a private repository also \
             answers 404 without HF_TOKEN)"
        ),
        ureq::Error::Status(code, response) => {
            format!("{url}: HTTP {code} {}", response.status_text())
        }
        ureq::Error::Transport(t) => match t.kind() {
            ureq::ErrorKind::Io => format!(
                "{endpoint} stopped answering ({t}; each wait is limited to {} s) — try again \
                 later, or set HF_ENDPOINT to a mirror of the Hub",
                timeout.as_secs_f64()
            ),
            ureq::ErrorKind::Dns
            | ureq::ErrorKind::ConnectionFailed
            | ureq::ErrorKind::ProxyConnect => format!(
                "cannot reach {endpoint} ({t}) — check the network, or set HF_ENDPOINT to a \
                 mirror of the Hub"
            ),
            _ => format!("{url}: {t}"),
        },
    }
}

/// The response body, whose read errors say which download failed.
struct Named<R> {
    inner: R,
    url: String,
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("downloading {}: {e}", self.url)))
    }
}
