//! Accepting connections, with the limits a public server needs: a client has
//! `header_timeout_s` to send a request's headers, counted from when its connection opens or its
//! previous answer was sent (so a slow-headers client and an idle keep-alive connection are both
//! closed), and one client address holds at most `max_connections_per_client` connections (one
//! more is answered 429 and closed). On shutdown no connection is accepted, and each open one
//! finishes the request it is serving, then closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// What each connection may do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub header_timeout: Duration,
    pub per_client: usize,
}

/// Open connections per client address.
#[derive(Debug, Default, Clone)]
struct Clients(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One admitted connection; gives its place back when dropped.
struct Admitted {
    clients: Clients,
    ip: IpAddr,
}

impl Clients {
    fn admit(&self, ip: IpAddr, limit: usize) -> Option<Admitted> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(Admitted {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self
            .clients
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The answer to a connection over the client's limit, in OpenAI's error shape (the client has
/// not said which API it speaks yet).
fn too_many(limit: usize) -> Vec<u8> {
    let body = serde_json::json!({"error": {
        "message": format!("This client already has {limit} connections open to the gateway, its limit: reuse them, or close some."),
        "type": "rate_limit_error",
        "param": null,
        "code": "too_many_connections",
    }})
    .to_string();
    format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn refuse(mut tcp: TcpStream, limit: usize) {
    let write = async {
        tcp.write_all(&too_many(limit)).await?;
        tcp.shutdown().await
    };
    // A client that does not read its refusal is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for every connection to
/// finish the request it is serving.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let clients = Clients::default();
    let graceful = GracefulShutdown::new();
    let service = TowerToHyperService::new(router);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a little rather than spin, as axum::serve does.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small writes: send them at once rather than wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
        let Some(admitted) = clients.admit(peer.ip(), limits.per_client) else {
            tracing::warn!(
                "refused a connection from {}: it already holds {} (max_connections_per_client)",
                peer.ip(),
                limits.per_client
            );
            tokio::spawn(refuse(tcp, limits.per_client));
            continue;
        };
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout);
        let conn = builder.serve_connection(TokioIo::new(tcp), service.clone());
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection from {}: {e}", admitted.ip);
            }
            drop(admitted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
