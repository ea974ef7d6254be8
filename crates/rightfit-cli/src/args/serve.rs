//! Arguments of `rightfit serve`.

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

use super::common::ProjectArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Address to listen on (overrides [gateway] listen; default 127.0.0.1:8787).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Whether requests need a gateway key (overrides [gateway] auth).
    #[arg(long, value_enum, value_name = "MODE")]
    pub auth: Option<AuthMode>,
    /// Re-read the project file whenever it changes (SIGHUP always does).
    #[arg(long)]
    pub watch: bool,
    /// Allow listening on a non-loopback address without gateway keys.
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Requests need a key from 'rightfit keys create'.
    Keys,
    /// Anyone who can reach the address may call.
    None,
}
