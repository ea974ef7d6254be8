//! The DevTools protocol on a pipe: a browser started with `--remote-debugging-pipe` reads
//! commands from fd 3 and writes answers and events to fd 4, each message a JSON text ended by a
//! NUL byte. One [`Browser`] per load: start, open a page, navigate, collect, close.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::page::{ConsoleMessage, LoadOptions, PageLoad};

/// Lines of the browser's log quoted in an error.
const LOG_TAIL_LINES: usize = 30;
/// A screenshot is cut at this height, CSS pixels.
const MAX_SCREENSHOT_HEIGHT: f64 = 16_000.0;

/// A running browser and its pipe.
pub(super) struct Browser {
    child: Child,
    to_browser: ChildStdin,
    from_browser: Receiver<Value>,
    /// Events not yet looked at, in order.
    events: Vec<Value>,
    next_id: u64,
    dir: PathBuf,
}

impl Browser {
    pub(super) fn start(binary: &Path, window: (u32, u32)) -> io::Result<Self> {
        let dir = scratch_dir()?;
        let log = File::create(dir.join("chromium.log"))?;
        // `sh` moves our pipes to fds 3 and 4, where --remote-debugging-pipe expects them, and
        // sends the browser's stdout to its log, so no unsafe `pre_exec` is needed.
        let spawned = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-pipe",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--mute-audio",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--proxy-server=127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>",
            ])
            .arg(format!("--window-size={},{}", window.0, window.1))
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg("about:blank")
            // Its own process group, so that `Drop` can end every process it started.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: cannot start: {e}", binary.display()),
                ));
            }
        };
        let (Some(to_browser), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            let _ = fs::remove_dir_all(&dir);
            return Err(io::Error::other("the browser's pipes were not opened"));
        };
        let (tx, from_browser) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                // A message that is not JSON would be a browser bug; skip it.
                if let Ok(message) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(message).is_err()
                {
                    return;
                }
            }
        });
        Ok(Self {
            child,
            to_browser,
            from_browser,
            events: Vec::new(),
            next_id: 0,
            dir,
        })
    }

    /// Sends a command (to the page's session when `session` is given) and waits for its answer,
    /// keeping the events that arrive meanwhile.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
        deadline: Instant,
    ) -> io::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&message)?;
        bytes.push(0);
        // A browser that has already exited makes the write fail with EPIPE rather than the
        // read see the end: the same event, said the same way.
        let closed = |e: io::Error| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the browser closed its pipe before we could send {method}"),
                )
            } else {
                e
            }
        };
        self.to_browser.write_all(&bytes).map_err(closed)?;
        self.to_browser.flush().map_err(closed)?;
        loop {
            let message = self.next(deadline, method)?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                if let Some(error) = message.get("error") {
                    return Err(io::Error::other(format!("{method}: {error}")));
                }
                return Ok(message.get("result").cloned().unwrap_or(Value::Null));
            }
            self.events.push(message);
        }
    }

    /// The next message, or an error when the browser is gone or the deadline passed.
    fn next(&mut self, deadline: Instant, waiting_for: &str) -> io::Result<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from_browser.recv_timeout(left) {
            Ok(message) => Ok(message),
            Err(RecvTimeoutError::Timeout) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out waiting for {waiting_for}"),
            )),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the browser closed its pipe while we waited for {waiting_for}"),
            )),
        }
    }

    /// Waits for an event of `method` on `session`.
    fn wait_for(&mut self, method: &str, session: &str, deadline: Instant) -> io::Result<()> {
        let is_it = |m: &Value| {
            m.get("method").and_then(Value::as_str) == Some(method)
                && m.get("sessionId").and_then(Value::as_str) == Some(session)
        };
        if self.events.iter().any(is_it) {
            return Ok(());
        }
        loop {
            let message = self.next(deadline, method)?;
            let found = is_it(&message);
            self.events.push(message);
            if found {
                return Ok(());
            }
        }
    }

    pub(super) fn load(
        &mut self,
        url: &str,
        options: &LoadOptions,
        deadline: Instant,
    ) -> io::Result<PageLoad> {
        let target = self.call(
            "Target.createTarget",
            json!({ "url": "about:blank" }),
            None,
            deadline,
        )?;
        let target_id = string_at(&target, "/targetId")?;
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
            None,
            deadline,
        )?;
        let session = string_at(&attached, "/sessionId")?;
        let s = Some(session.as_str());
        for domain in [
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
            "Page.enable",
        ] {
            self.call(domain, json!({}), s, deadline)?;
        }
        let (width, height) = options.window;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
            s,
            deadline,
        )?;
        let navigated = self.call("Page.navigate", json!({ "url": url }), s, deadline)?;
        if let Some(error) = navigated.get("errorText").and_then(Value::as_str) {
            return Err(io::Error::other(format!("{url}: {error}")));
        }
        self.wait_for("Page.loadEventFired", &session, deadline)?;
        // One frame and a task more, so that work queued at load has run.
        self.call(
            "Runtime.evaluate",
            json!({
                "expression": "new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))",
                "awaitPromise": true,
            }),
            s,
            deadline,
        )?;
        let dom = self.call(
            "Runtime.evaluate",
            json!({ "expression": "document.documentElement.outerHTML", "returnByValue": true }),
            s,
            deadline,
        )?;
        let dom = string_at(&dom, "/result/value")?;
        let screenshot = if options.screenshot {
            let metrics = self.call("Page.getLayoutMetrics", json!({}), s, deadline)?;
            let content_height = metrics
                .pointer("/cssContentSize/height")
                .and_then(Value::as_f64)
                .unwrap_or(f64::from(height));
            let clip_height = content_height.clamp(1.0, MAX_SCREENSHOT_HEIGHT).ceil();
            let shot = self.call(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": clip_height, "scale": 1 },
                }),
                s,
                deadline,
            )?;
            let data = string_at(&shot, "/data")?;
            Some(base64_decode(&data).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "the screenshot is not base64")
            })?)
        } else {
            None
        };
        // Anything still in flight (a late console message) arrives before this answer.
        self.call(
            "Runtime.evaluate",
            json!({ "expression": "0" }),
            s,
            deadline,
        )?;
        Ok(collect(url, dom, screenshot, &self.events, &session))
    }

    /// Asks the browser to close and gives it a few seconds to exit; `Drop` kills it if it
    /// has not.
    pub(super) fn close(&mut self) {
        let stop = Instant::now() + Duration::from_secs(5);
        // Its answer may never come (it exits); the wait below is what matters.
        let _ = self.call("Browser.close", json!({}), None, stop);
        while Instant::now() < stop {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(super) fn failure(&self, binary: &Path, e: &io::Error) -> io::Error {
        let text = fs::read(self.dir.join("chromium.log")).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        io::Error::new(
            e.kind(),
            format!(
                "{}: {e}; last lines of its log:\n{}",
                binary.display(),
                lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
            ),
        )
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Still running (a hung page, a failed load): kill its whole process group — a renderer
        // stuck in a script would outlive the browser otherwise. Once the browser has exited
        // (and been reaped) its group id may be reused, so it is left alone.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The page's console messages, exceptions and requests from the events of its session.
fn collect(
    url: &str,
    dom: String,
    screenshot: Option<Vec<u8>>,
    events: &[Value],
    session: &str,
) -> PageLoad {
    let mut load = PageLoad {
        url: url.to_owned(),
        dom,
        console: Vec::new(),
        exceptions: Vec::new(),
        requests: Vec::new(),
        screenshot,
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    for event in events {
        if event.get("sessionId").and_then(Value::as_str) != Some(session) {
            continue;
        }
        let params = event.get("params").unwrap_or(&Value::Null);
        match event.get("method").and_then(Value::as_str) {
            Some("Runtime.consoleAPICalled") => {
                let args = params
                    .get("args")
                    .and_then(Value::as_array)
                    .map(|args| args.iter().map(remote_object_text).collect::<Vec<_>>())
                    .unwrap_or_default();
                load.console.push(ConsoleMessage {
                    level: text(params.get("type")),
                    source: "console".to_owned(),
                    text: args.join(" "),
                });
            }
            Some("Log.entryAdded") => {
                let entry = params.get("entry").unwrap_or(&Value::Null);
                load.console.push(ConsoleMessage {
                    level: text(entry.get("level")),
                    source: text(entry.get("source")),
                    text: text(entry.get("text")),
                });
            }
            Some("Runtime.exceptionThrown") => {
                let details = params.get("exceptionDetails").unwrap_or(&Value::Null);
                let description = details
                    .pointer("/exception/description")
                    .and_then(Value::as_str)
                    .or_else(|| details.get("text").and_then(Value::as_str))
                    .unwrap_or("an exception");
                load.exceptions.push(description.to_owned());
            }
            Some("Network.requestWillBeSent") => {
                load.requests.push(text(params.pointer("/request/url")));
            }
            Some("Network.webSocketCreated") => load.requests.push(text(params.get("url"))),
            _ => {}
        }
    }
    load
}

/// A console argument as text: a primitive's value, else the object's description.
fn remote_object_text(arg: &Value) -> String {
    match arg.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => arg
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_else(|| arg.get("type").and_then(Value::as_str).unwrap_or("?"))
            .to_owned(),
    }
}

fn string_at(v: &Value, pointer: &str) -> io::Result<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no {pointer} in the browser's answer {v}"),
            )
        })
}

/// Standard base64 (with padding, no line breaks), as the protocol sends binary data.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&[a, b, c]),
            3 => out.extend_from_slice(&[a, b]),
            2 => out.push(a),
            _ => return None,
        }
    }
    Some(out)
}

/// A fresh directory for one browser's profile and log, unique within the machine.
fn scratch_dir() -> io::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rightfit-chromium-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    // A leftover from an earlier process with the same id would hold a stale profile.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(base64_decode("TWE=").as_deref(), Some(&b"Ma"[..]));
        assert_eq!(base64_decode("TQ==").as_deref(), Some(&b"M"[..]));
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(
            base64_decode("iVBORw0KGgo=").as_deref(),
            Some(&b"\x89PNG\r\n\x1a\n"[..])
        );
        assert_eq!(base64_decode("T"), None);
        assert_eq!(base64_decode("TW!u"), None);
    }
}
