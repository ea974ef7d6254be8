//! The server: accepts connections, records requests, plays the script.
//!
//! The accept loop is our own (not `axum::serve`) so that a step can end a connection without a
//! response: each connection has a kill signal that handlers fire; the connection future is then
//! dropped, which closes the socket.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};

use crate::script::{Protocol, Recorded, ServerConfig, Step};
use crate::shared::{Req, Shared, lock};
use crate::{anthropic, gemini, openai, respond};

/// The largest request body read; larger ones are recorded with a `Null` body.
const MAX_BODY: usize = 64 << 20;

/// A running test server on `127.0.0.1` and a free port; it stops when dropped.
///
/// Every request is recorded. A generation request is first checked like the real service
/// checks it — path, key, required headers, body, model — and refused in the protocol's shape
/// without taking a script step; only then does it take the next [`Step`] (or the default reply).
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl TestServer {
    /// Starts a server on `127.0.0.1` and a free port.
    pub async fn start(config: ServerConfig) -> std::io::Result<Self> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on this address (port 0 picks a free one).
    pub async fn start_on(config: ServerConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let accept = tokio::spawn(accept_loop(listener, shared.clone())).abort_handle();
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash, no `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Appends steps to the script; each request takes the next one (then the default reply).
    pub fn push(&self, steps: impl IntoIterator<Item = Step>) {
        let mut script = lock(&self.shared.script);
        script.extend(steps);
        self.shared.scripted.store(script.len(), Ordering::Release);
    }

    /// How many scripted steps no request has taken yet.
    pub fn steps_left(&self) -> usize {
        self.shared.scripted.load(Ordering::Acquire)
    }

    /// Every request received so far, in order (including those answered with a fault).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.records).clone()
    }

    /// How many requests arrived (counted even while recording is off).
    pub fn request_count(&self) -> usize {
        self.shared.count.load(Ordering::Acquire)
    }

    /// Turns keeping [`Recorded`] requests on or off (on at start). Long benchmark runs turn it
    /// off so that memory stays flat; [`request_count`](Self::request_count) still counts.
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Release);
    }

    /// From now on, counts as [too soon](Self::too_soon) every request over these per-minute
    /// limits, as a hosted API would refuse it with 429: a minute's allowance at once, refilling
    /// continuously; tokens are charged as the answer reports them (prompt and completion).
    /// Such a request is still answered as scripted. `None` leaves that kind unchecked.
    pub fn check_rate_limits(
        &self,
        requests_per_minute: Option<u32>,
        tokens_per_minute: Option<u32>,
    ) {
        lock(&self.shared.rate).set_limits(
            std::time::Instant::now(),
            requests_per_minute,
            tokens_per_minute,
        );
    }

    /// How many generation and embeddings requests a hosted API would have refused with 429
    /// for coming too soon: before the `Retry-After` of a scripted [`Step::RateLimited`] had
    /// passed (always checked), or over a limit set with
    /// [`check_rate_limits`](Self::check_rate_limits). They were answered as scripted all the
    /// same; a test that a client waits asserts there were none.
    pub fn too_soon(&self) -> usize {
        lock(&self.shared.rate).too_soon()
    }

    /// Holds every generation and embeddings request that arrives from now on — counted,
    /// recorded and given its script step, but not answered — until the [`Hold`] is released
    /// or dropped. For tests of what must not wait for this server's answer.
    pub fn hold(&self) -> Hold {
        self.shared.held.send_replace(true);
        Hold {
            shared: self.shared.clone(),
        }
    }
}

/// `http://127.0.0.1:PORT` where nothing listens, so that connecting is refused at once: a port
/// the system just handed out, released again (for tests of a server that is down).
pub fn unreachable_url() -> std::io::Result<String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

/// Requests wait for their answer while this lives (see [`TestServer::hold`]).
#[derive(Debug)]
pub struct Hold {
    shared: Arc<Shared>,
}

impl Hold {
    /// Lets the held requests (and later ones) be answered.
    pub fn release(self) {}
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.shared.held.send_replace(false);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // The accept task owns every connection task (a JoinSet), so aborting it ends them all.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(%error, "test server: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    // Deltas are small writes; without this, Nagle would hold them back.
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(Notify::new());
    let handler_kill = kill.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = shared.clone();
        let kill = handler_kill.clone();
        async move { Ok::<_, Infallible>(handle(&shared, &kill, request).await) }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        // Dropping the connection future closes the socket, whatever was (not) written.
        () = kill.notified() => {}
    }
}

async fn handle(shared: &Shared, kill: &Arc<Notify>, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), MAX_BODY)
        .await
        .unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let incoming = Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        json,
    };
    if shared.recording.load(Ordering::Acquire) {
        let recorded = Recorded {
            method: incoming.method.to_string(),
            path: incoming.path.clone(),
            query: incoming.query.clone(),
            headers: incoming
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: incoming.json.clone().unwrap_or(serde_json::Value::Null),
        };
        lock(&shared.records).push(recorded);
    }
    shared.count.fetch_add(1, Ordering::AcqRel);

    match shared.config.protocol {
        Protocol::OpenAi => match openai::prepare(shared, &incoming) {
            Ok(accepted) => accepted.play(shared, kill).await,
            Err(response) => response,
        },
        Protocol::Anthropic => match anthropic::prepare(shared, &incoming) {
            Ok(call) => respond::play(shared, kill, call).await,
            Err(response) => response,
        },
        Protocol::Gemini => match gemini::prepare(shared, &incoming) {
            Ok(accepted) => accepted.play(shared, kill).await,
            Err(response) => response,
        },
    }
}
