//! llama.cpp's own `llama-server`, started for a test: a real OpenAI-compatible server that the
//! provider clients are proved against, next to this crate's scripted ones.
//!
//! `scripts/test-tools` builds the binary (pinned llama.cpp, CPU only) and `scripts/test` exports
//! its path as `RIGHTFIT_TEST_LLAMA_SERVER`, with the SmolLM2-135M model as `RIGHTFIT_TEST_MODEL`.
//! Blocking std only: the server is a child process, its readiness is polled over a plain socket.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The `llama-server` binary `scripts/test-tools` built.
const BINARY_VAR: &str = rightfit_config::env::TEST_LLAMA_SERVER;
/// The GGUF model the tests serve (SmolLM2-135M-Instruct Q4_1).
const MODEL_VAR: &str = rightfit_config::env::TEST_MODEL;
/// Loading SmolLM2-135M takes about a second; the margin is for a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// What the server prints once its socket is bound (`--port 0` lets it pick a free port itself).
const LISTENING: &str = "listening on http://127.0.0.1:";
/// Lines of the server's log quoted in an error.
const LOG_TAIL_LINES: usize = 30;

/// A running `llama-server` on `127.0.0.1` and a free port; killed (and reaped) when dropped.
#[derive(Debug)]
pub struct LlamaServer {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl LlamaServer {
    /// Starts `binary` serving `model` on a free port and waits until `GET /health` answers 200.
    ///
    /// Defaults: 2048 tokens of context, 2 threads, 1 slot (`-c 2048 -t 2 -np 1`); `extra_args`
    /// come after them, so they can override these (llama.cpp takes the last value given).
    /// The server's stdout and stderr go to a log file in a temporary directory; an error quotes
    /// its last lines.
    pub fn start(binary: &Path, model: &Path, extra_args: &[&str]) -> io::Result<Self> {
        let dir = scratch_dir()?;
        let log = File::create(dir.join("llama-server.log"))?;
        let spawned = Command::new(binary)
            .arg("--model")
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--ctx-size", "2048", "--threads", "2", "--parallel", "1"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: cannot start llama-server: {e}", binary.display()),
                ));
            }
        };
        // From here on, Drop kills the child and removes the directory on every error path.
        let mut server = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            dir,
        };
        server.wait_ready(binary)?;
        Ok(server)
    }

    /// Starts the binary in `RIGHTFIT_TEST_LLAMA_SERVER` on the model in `RIGHTFIT_TEST_MODEL`.
    ///
    /// # Panics
    /// When either variable is unset or names a missing file (run `scripts/test`, which sets
    /// both), or when the server does not start (the message quotes its log).
    pub fn from_env() -> Self {
        let binary = env_path(BINARY_VAR, "scripts/test-tools builds it");
        let model = env_path(MODEL_VAR, "scripts/test pulls it");
        Self::start(&binary, &model, &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL an OpenAI client takes.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The last lines of the server's log, for a failing test's message.
    pub fn log_tail(&self) -> String {
        let text = fs::read(self.log_path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// A plain `GET` of `path` (e.g. `/health`, `/v1/models`): the status and the body.
    pub fn get(&self, path: &str) -> io::Result<(u16, String)> {
        http_get(self.addr, path, Duration::from_secs(30))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("llama-server.log")
    }

    /// Waits for the port in the log, then for `/health` to answer 200 (503 while loading).
    fn wait_ready(&mut self, binary: &Path) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(self.failure(binary, &format!("exited ({status}) before it was ready")));
            }
            if self.addr.port() == 0
                && let Some(port) = listening_port(&fs::read(self.log_path())?)
            {
                self.addr.set_port(port);
            }
            if self.addr.port() != 0
                && matches!(
                    http_get(self.addr, "/health", Duration::from_secs(5)),
                    Ok((200, _))
                )
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let what = format!(
                    "not ready after {} s (GET /health never answered 200)",
                    START_TIMEOUT.as_secs()
                );
                return Err(self.failure(binary, &what));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn failure(&self, binary: &Path, what: &str) -> io::Error {
        io::Error::other(format!(
            "{}: {what}; last lines of {}:\n{}",
            binary.display(),
            self.log_path().display(),
            self.log_tail()
        ))
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        // Errors mean it already exited; either way it is reaped and its files go.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn env_path(var: &str, origin: &str) -> PathBuf {
    let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
        panic!("{var} is not set: run the tests with scripts/test ({origin}), or set {var}");
    };
    let path = PathBuf::from(value);
    assert!(
        path.is_file(),
        "{var}={}: no such file: run scripts/test ({origin})",
        path.display()
    );
    path
}

/// A fresh directory for one server's log, unique within the machine.
fn scratch_dir() -> io::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rightfit-llama-server-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    // A leftover from an earlier process with the same id would hold a stale log.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The port in llama-server's `listening on http://127.0.0.1:PORT` log line.
fn listening_port(log: &[u8]) -> Option<u16> {
    let log = String::from_utf8_lossy(log);
    let rest = &log[log.find(LISTENING)? + LISTENING.len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok().filter(|&port| port != 0)
}

/// HTTP/1.1 `GET` with `Connection: close`, read to the end: the status and the (de-chunked) body.
fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let invalid =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("GET {path}: {what}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status code"))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| invalid("bad chunked body"))?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Decodes a `Transfer-Encoding: chunked` body (extensions and trailers ignored).
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smollm2_llama_server_lists_its_model_under_v1() {
        let server = LlamaServer::from_env();
        assert!(server.base_url().starts_with("http://127.0.0.1:"));
        assert!(server.base_url().ends_with("/v1"));
        assert_ne!(server.addr().port(), 0);

        let (status, body) = server.get("/v1/models").unwrap();
        assert_eq!(status, 200, "{body}\n{}", server.log_tail());
        let models: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(models["object"], "list", "{body}");
        let id = models["data"][0]["id"].as_str().unwrap_or_default();
        assert!(
            id.contains("SmolLM2-135M-Instruct"),
            "model id {id:?} in {body}"
        );
    }

    #[test]
    fn smollm2_llama_server_stops_when_dropped() {
        let server = LlamaServer::from_env();
        let addr = server.addr();
        let dir = server.dir.clone();
        drop(server);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
        assert!(!dir.exists());
    }

    #[test]
    fn a_missing_binary_is_an_error_naming_it() {
        let err = LlamaServer::start(
            Path::new("/nonexistent/llama-server"),
            Path::new("m.gguf"),
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/llama-server"),
            "{err}"
        );
    }

    #[test]
    fn a_server_that_exits_early_is_an_error_quoting_its_log() {
        // sh rejects `--model` as an option, complains on stderr and exits 2. (A script of our own
        // would risk ETXTBSY: other tests fork while it is being written.)
        let err = LlamaServer::start(Path::new("/bin/sh"), Path::new("m.gguf"), &[]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("exited"), "{message}");
        let (_, quoted) = message
            .split_once("llama-server.log:\n")
            .expect("a log tail");
        assert!(quoted.contains("option"), "{message}");
    }

    #[test]
    fn the_port_is_read_from_the_listening_line() {
        let log = b"main: loading model\nsrv  main: listening on http://127.0.0.1:43917\nmore";
        assert_eq!(listening_port(log), Some(43917));
        assert_eq!(listening_port(b"srv  main: loading model"), None);
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n").as_deref(),
            Some(&b"Wikipedia"[..])
        );
        assert_eq!(dechunk(b"4\r\nWi"), None);
    }
}
