//! One file from the Hugging Face Hub, or from a mirror of its HTTP interface (`HF_ENDPOINT`),
//! streamed straight into an [`Assembly`] (which hashes it on the way; no second copy in a
//! cache). Connecting and every read have a timeout, so an unreachable or stalled Hub is an
//! error that says so, not a hang.

use std::io::{self, Read};
use std::time::Duration;

use rightfit_types::progress::{Progress, Unit};

use super::{Assembly, FetchError, FetchOptions};

/// The Hub's address when none is configured.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// Downloads `repo`'s `file` at `revision` (`{endpoint}/{repo}/resolve/{revision}/{file}`, the
/// Hub's download URL, which redirects to its storage) into `out`.
pub(super) fn fetch_hub(
    repo: &str,
    file: &str,
    revision: &str,
    out: &mut Assembly,
    options: &FetchOptions,
    progress: &dyn Progress,
) -> Result<(), FetchError> {
    let endpoint = options.hf_endpoint.trim_end_matches('/');
    let url = format!("{endpoint}/{repo}/resolve/{revision}/{file}");
    progress.note(&format!("downloading {url}"));
    let agent = ureq::AgentBuilder::new()
        .try_proxy_from_env(true)
        .timeout_connect(options.hub_timeout)
        .timeout_read(options.hub_timeout)
        .redirects(8)
        // The token goes to the Hub, not to the storage host it redirects to.
        .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
        .user_agent(concat!("rightfit/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut request = agent.get(&url);
    if let Some(token) = &options.hf_token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let response = request
        .call()
        .map_err(|e| FetchError::Hub(explain(&url, endpoint, options.hub_timeout, e)))?;
    let len = response
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok());
    progress.start("downloading", len, 0, Unit::Bytes);
    let mut body = Named {
        inner: response.into_reader(),
        url: &url,
    };
    out.append(&mut body, progress)?;
    progress.finish();
    Ok(())
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
struct Named<'a, R> {
    inner: R,
    url: &'a str,
}

impl<R: Read> Read for Named<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("downloading {}: {e}", self.url)))
    }
}
