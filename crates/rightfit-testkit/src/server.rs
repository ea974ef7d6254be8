//! The server: accepts connections, records requests, plays the script.

use std::net::SocketAddr;

use crate::script::{Recorded, ServerConfig, Step};

/// A running test server on `127.0.0.1` and a free port; it stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
}

impl TestServer {
    /// Starts a server.
    pub async fn start(config: ServerConfig) -> std::io::Result<Self> {
        let _ = config;
        todo!("helper implements")
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
        let _ = steps.into_iter().count();
        todo!("helper implements")
    }

    /// Every request received so far, in order (including those answered with a fault).
    pub fn requests(&self) -> Vec<Recorded> {
        todo!("helper implements")
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        self.requests().len()
    }
}
