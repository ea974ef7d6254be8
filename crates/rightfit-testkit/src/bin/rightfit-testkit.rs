//! `rightfit-testkit serve --protocol openai|anthropic|gemini [--port N] [--key KEY]
//! [--model ID]... [--text TEXT]`: runs one test server that answers every request with the default
//! reply, prints its base URL on stdout, and serves until killed. For manual checks and as an
//! upstream in gateway benchmarks; it keeps no request log (nobody could read it), so memory
//! stays flat however long it runs.

use std::net::SocketAddr;
use std::process::ExitCode;

use rightfit_testkit::{Protocol, Reply, ServerConfig, TestServer};

const USAGE: &str = "usage: rightfit-testkit serve --protocol openai|anthropic|gemini [--port N] [--key KEY | --no-key] [--model ID]... [--text TEXT]";

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    config: ServerConfig,
    port: u16,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    if args.next().as_deref() != Some("serve") {
        return Err(USAGE.to_owned());
    }
    let mut protocol = None;
    let mut port = 0;
    let mut key = Some("test-key".to_owned());
    let mut models = Vec::new();
    let mut text = None;
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--protocol" => {
                protocol = Some(match value()?.as_str() {
                    "openai" => Protocol::OpenAi,
                    "anthropic" => Protocol::Anthropic,
                    "gemini" => Protocol::Gemini,
                    other => {
                        return Err(format!(
                            "unknown protocol '{other}': use openai, anthropic or gemini"
                        ));
                    }
                });
            }
            "--port" => {
                let raw = value()?;
                port = raw
                    .parse()
                    .map_err(|_| format!("--port '{raw}' is not a port number"))?;
            }
            "--key" => key = Some(value()?),
            "--no-key" => key = None,
            "--model" => models.push(value()?),
            "--text" => text = Some(value()?),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    let protocol = protocol.ok_or_else(|| format!("--protocol is required\n{USAGE}"))?;
    let mut config = ServerConfig::new(protocol);
    config.api_key = key;
    config.models = models;
    if let Some(text) = text {
        config.default_reply = Reply::text(text);
    }
    Ok(Args { config, port })
}

// The base URL on stdout is this binary's output: scripts read it to find the server.
#[allow(clippy::print_stdout)]
fn announce(server: &TestServer) {
    println!("{}", server.base_url());
}

// Errors go to stderr, for the person or script that started the server.
#[allow(clippy::print_stderr)]
fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("rightfit-testkit: {message}");
    ExitCode::from(code)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => return fail(&message, 1),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let server = match TestServer::start_on(args.config, addr).await {
        Ok(server) => server,
        Err(error) => return fail(&format!("cannot listen on {addr}: {error}"), 1),
    };
    server.set_recording(false);
    announce(&server);
    if let Err(error) = tokio::signal::ctrl_c().await {
        return fail(&format!("cannot wait for Ctrl-C: {error}"), 2);
    }
    ExitCode::SUCCESS
}
