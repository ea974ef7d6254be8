//! `[gateway]`: how `rightfit serve` listens, who may call it, and what its traffic log keeps.
//!
//! Read by the gateway crate (`rightfit-gateway`); per-component routing lives in
//! `[components.NAME.serve]` (`ServePolicy`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Default `listen`: loopback only, port 8787.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8787);

/// The validated `[gateway]` table. `Default` gives the defaults of a project without one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GatewayConfig {
    /// Address to listen on (default `127.0.0.1:8787`).
    pub listen: SocketAddr,
    /// Whether requests need a gateway key (default [`GatewayAuth::Keys`]).
    pub auth: GatewayAuth,
    /// Largest request body accepted, bytes (`body_limit_kb` × 1024; default 4096 KiB).
    pub body_limit_bytes: usize,
    /// Per-attempt deadline for a target when its component sets no `timeout_s`, seconds
    /// (default 120).
    pub request_timeout_s: f64,
    /// Keep request messages and outputs in the traffic log (default true).
    pub log_inputs: bool,
    /// Top-level request fields blanked in the logged params (default none).
    pub redact_fields: Vec<String>,
    /// Regular expressions (each checked to compile with the `regex` crate); their matches
    /// become `[redacted]` in logged messages and outputs (default none).
    pub redact_patterns: Vec<String>,
    /// The traffic writer flushes at least this often, milliseconds (default 200).
    pub flush_ms: u64,
    /// The traffic writer puts at most this many records in one transaction (default 256).
    pub batch: usize,
    /// What an answered request's record survives before the writer has stored it (default
    /// [`Durability::Process`]).
    pub durability: Durability,
    /// The traffic journal's directory, resolved against the project file's directory (default:
    /// beside the store, [`GatewayConfig::journal_dir`]).
    pub journal: Option<PathBuf>,
    /// A client has this long to send a request's headers, counted from when the connection
    /// opens or its previous answer was sent (so it bounds idle keep-alive connections too),
    /// seconds (default 30).
    pub header_timeout_s: f64,
    /// Connections one client address may hold open at once; one more is answered 429 and
    /// closed (default 256).
    pub max_connections_per_client: usize,
}

/// What an answered request's traffic record survives between its answer and the batched
/// database write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// `durability = "process"`: appended to the journal with one `write(2)` before the answer
    /// completes: survives the gateway being killed or crashing, not a power cut.
    Process,
    /// `durability = "power"`: also flushed to the disk (`fdatasync`) before the answer
    /// completes: survives a power cut, at one disk flush per request.
    Power,
    /// `durability = "none"`: no journal; records answered in the last `flush_ms` are lost if
    /// the gateway is killed.
    None,
}

impl GatewayConfig {
    /// The journal's directory for a gateway of the project in `root` whose store is `store`:
    /// as [`GatewayConfig::journal_dir`], except that a database server's store
    /// ([`super::location::is_database_url`]) has no file to sit beside, so the default is
    /// `<root>/.rightfit/gateway-<port>.journal`: one per process, since replicas on one machine
    /// listen on different ports (a journal is locked by the gateway that owns it).
    pub fn journal_for(&self, store: &Path, root: &Path) -> Option<PathBuf> {
        if store.to_str().is_some_and(super::location::is_database_url) {
            let own = root.join(format!(".rightfit/gateway-{}", self.listen.port()));
            return self.journal_dir(&own);
        }
        self.journal_dir(store)
    }

    /// The journal's directory for a gateway whose store is `store`: `journal` when set, else
    /// `<store>.journal` beside it; `None` with `durability = "none"`.
    pub fn journal_dir(&self, store: &Path) -> Option<PathBuf> {
        if self.durability == Durability::None {
            return None;
        }
        Some(self.journal.clone().unwrap_or_else(|| {
            let mut name = store.file_name().unwrap_or_default().to_os_string();
            name.push(".journal");
            store.with_file_name(name)
        }))
    }
}

/// Who may call the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayAuth {
    /// `auth = "keys"`: every request carries a gateway key from `rightfit keys create`.
    Keys,
    /// `auth = "none"`: anyone who can reach the address may call it.
    None,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            auth: GatewayAuth::Keys,
            body_limit_bytes: 4096 * 1024,
            request_timeout_s: 120.0,
            log_inputs: true,
            redact_fields: Vec::new(),
            redact_patterns: Vec::new(),
            flush_ms: 200,
            batch: 256,
            durability: Durability::Process,
            journal: None,
            header_timeout_s: 30.0,
            max_connections_per_client: 256,
        }
    }
}
