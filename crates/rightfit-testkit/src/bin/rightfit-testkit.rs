//! `rightfit-testkit serve --protocol openai|anthropic|gemini [--port N] [--key KEY]
//! [--model ID]... [--text TEXT]`: runs one test server that answers every request with the default
//! reply, prints its base URL on stdout, and serves until killed. For manual checks and as an
//! upstream in gateway benchmarks; it keeps no request log (nobody could read it), so memory
//! stays flat however long it runs.
//!
//! Faults for soak tests (scripts/soak): `--fault KIND=FRACTION` (repeatable) answers that share
//! of generation requests, drawn at random for each request, with a fault instead of the reply:
//!
//! - `5xx`: status 500, 502 or 503 in the protocol's error shape;
//! - `timeout`: no answer for `--hang S` seconds (default 30), then the reply;
//! - `cut`: the answer cut after `--cut-after N` deltas (default 1) by closing the connection (a
//!   stream without its end marker; a whole body shorter than its `Content-Length`);
//! - `slow`: the reply with a pause of `--pause MS` milliseconds (default 100) before each delta
//!   (streamed: headers at once; whole: the pauses before the headers);
//! - `drop`: the connection closed without a response.
//!
//! `--pace MS` paces every other reply the same way (a model that takes time to generate);
//! `--seed N` fixes the draws. With any of these, or `--stats`, SIGINT or SIGTERM prints one JSON
//! line on stdout after the base URL — `{"requests": N, "taken": {"reply": n, "5xx": n, ...}}`, the requests
//! received and how many took each answer — and exits 0. Without them nothing changes: every
//! request gets the reply, Ctrl-C ends the server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rightfit_testkit::{Protocol, Reply, ServerConfig, Step, TestServer};

const USAGE: &str = "usage: rightfit-testkit serve --protocol openai|anthropic|gemini [--port N] [--key KEY | --no-key] [--model ID]... [--text TEXT] [--fault 5xx|timeout|cut|slow|drop=FRACTION]... [--hang S (30)] [--pause MS (100)] [--cut-after N (1)] [--pace MS] [--seed N] [--stats]";

/// What a request can get besides the plain reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reply,
    Status5xx,
    Timeout,
    Cut,
    Slow,
    Drop,
}

const KINDS: [Kind; 6] = [
    Kind::Reply,
    Kind::Status5xx,
    Kind::Timeout,
    Kind::Cut,
    Kind::Slow,
    Kind::Drop,
];

impl Kind {
    fn parse(name: &str) -> Option<Self> {
        KINDS
            .into_iter()
            .find(|k| *k != Kind::Reply && k.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Reply => "reply",
            Kind::Status5xx => "5xx",
            Kind::Timeout => "timeout",
            Kind::Cut => "cut",
            Kind::Slow => "slow",
            Kind::Drop => "drop",
        }
    }
}

/// Faults at random fractions, and how each is played.
#[derive(Debug, Clone, PartialEq)]
struct Mix {
    /// Each fault and its share of requests (the rest get the reply).
    faults: Vec<(Kind, f64)>,
    hang: Duration,
    pause: Duration,
    cut_after: usize,
    /// Pause before each delta of a plain reply.
    pace: Option<Duration>,
    seed: Option<u64>,
    /// Print the counts when stopped, even without faults.
    stats: bool,
}

impl Mix {
    fn active(&self) -> bool {
        !self.faults.is_empty() || self.pace.is_some() || self.stats
    }

    /// One request's answer, for a uniform draw `u` in [0, 1) and a second one for the status.
    fn draw(&self, u: f64, v: u64, reply: &Reply) -> (Kind, Step) {
        let mut acc = 0.0;
        let kind = self
            .faults
            .iter()
            .find(|(_, share)| {
                acc += share;
                u < acc
            })
            .map_or(Kind::Reply, |(k, _)| *k);
        let step = match kind {
            Kind::Reply => match self.pace {
                Some(pause) => Step::Slow {
                    reply: reply.clone(),
                    pause,
                },
                None => Step::Reply(reply.clone()),
            },
            Kind::Status5xx => Step::Status([500, 502, 503][(v % 3) as usize]),
            Kind::Timeout => Step::Delay(self.hang, reply.clone()),
            Kind::Cut => Step::Truncate {
                reply: reply.clone(),
                after_chunks: self.cut_after,
            },
            Kind::Slow => Step::Slow {
                reply: reply.clone(),
                pause: self.pause,
            },
            Kind::Drop => Step::Drop,
        };
        (kind, step)
    }
}

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    config: ServerConfig,
    port: u16,
    mix: Mix,
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
    let mut mix = Mix {
        faults: Vec::new(),
        hang: Duration::from_secs(30),
        pause: Duration::from_millis(100),
        cut_after: 1,
        pace: None,
        seed: None,
        stats: false,
    };
    let number = |flag: &str, raw: &str| -> Result<f64, String> {
        match raw.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => Err(format!("{flag} '{raw}' is not a number >= 0")),
        }
    };
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
            "--fault" => {
                let raw = value()?;
                let (name, share) = raw
                    .split_once('=')
                    .ok_or_else(|| format!("--fault '{raw}': write KIND=FRACTION"))?;
                let kind = Kind::parse(name).ok_or_else(|| {
                    format!("--fault '{raw}': unknown kind (5xx, timeout, cut, slow, drop)")
                })?;
                let share = number("--fault", share)?;
                if mix.faults.iter().any(|(k, _)| *k == kind) {
                    return Err(format!("--fault {name} is given twice"));
                }
                mix.faults.push((kind, share));
            }
            "--hang" => mix.hang = Duration::from_secs_f64(number("--hang", &value()?)?),
            "--pause" => {
                mix.pause = Duration::from_secs_f64(number("--pause", &value()?)? / 1e3);
            }
            "--pace" => {
                mix.pace = Some(Duration::from_secs_f64(number("--pace", &value()?)? / 1e3));
            }
            "--cut-after" => {
                let raw = value()?;
                mix.cut_after = raw
                    .parse()
                    .map_err(|_| format!("--cut-after '{raw}' is not a count"))?;
            }
            "--stats" => mix.stats = true,
            "--seed" => {
                let raw = value()?;
                mix.seed = Some(
                    raw.parse()
                        .map_err(|_| format!("--seed '{raw}' is not a number"))?,
                );
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    let protocol = protocol.ok_or_else(|| format!("--protocol is required\n{USAGE}"))?;
    if mix.faults.iter().map(|(_, share)| share).sum::<f64>() > 1.0 + 1e-9 {
        return Err("the --fault fractions add up to more than 1".to_owned());
    }
    let mut config = ServerConfig::new(protocol);
    config.api_key = key;
    config.models = models;
    if let Some(text) = text {
        config.default_reply = Reply::text(text);
    }
    Ok(Args { config, port, mix })
}

/// SplitMix64: enough randomness for drawing faults, without a dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Steps queued ahead of the requests, and what the requests took.
#[derive(Debug)]
struct Feeder {
    mix: Mix,
    reply: Reply,
    rng: Rng,
    /// Kinds of the steps pushed and not yet known to be taken, oldest first.
    queued: VecDeque<Kind>,
    pushed: usize,
    taken: [u64; KINDS.len()],
}

/// Steps kept queued: a few seconds of requests at thousands per second.
const AHEAD: usize = 8192;

impl Feeder {
    /// Counts the steps taken since the last call and tops the script up to `AHEAD` steps. The
    /// server takes steps in the order they were pushed, so those taken are the oldest.
    fn feed(&mut self, server: &TestServer) {
        let left = server.steps_left();
        let mut taken = (self.pushed - left).saturating_sub(self.counted());
        while taken > 0 {
            let Some(kind) = self.queued.pop_front() else {
                break;
            };
            self.taken[kind as usize] += 1;
            taken -= 1;
        }
        if left < AHEAD / 2 {
            let steps: Vec<Step> = (left..AHEAD)
                .map(|_| {
                    let (u, v) = (self.rng.unit(), self.rng.next());
                    let (kind, step) = self.mix.draw(u, v, &self.reply);
                    self.queued.push_back(kind);
                    step
                })
                .collect();
            self.pushed += steps.len();
            server.push(steps);
        }
    }

    /// Steps known to be taken.
    fn counted(&self) -> usize {
        self.pushed - self.queued.len()
    }

    fn stats(&self, server: &TestServer) -> serde_json::Value {
        let taken: serde_json::Map<String, serde_json::Value> = KINDS
            .iter()
            .map(|k| (k.name().to_owned(), self.taken[*k as usize].into()))
            .collect();
        serde_json::json!({"requests": server.request_count(), "taken": taken})
    }
}

// The base URL on stdout is this binary's output: scripts read it to find the server.
#[allow(clippy::print_stdout)]
fn announce(server: &TestServer) {
    println!("{}", server.base_url());
}

// And so are the counts a faulty server prints when it stops.
#[allow(clippy::print_stdout)]
fn report(stats: &serde_json::Value) {
    println!("{stats}");
}

// Errors go to stderr, for the person or script that started the server.
#[allow(clippy::print_stderr)]
fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("rightfit-testkit: {message}");
    ExitCode::from(code)
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn stopped() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Serves with faults drawn at random until stopped, then prints what was taken.
async fn serve_faulty(server: Arc<TestServer>, mix: Mix, reply: Reply) -> ExitCode {
    let seed = mix.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id())
    });
    let feeder = Arc::new(std::sync::Mutex::new(Feeder {
        mix,
        reply,
        rng: Rng(seed),
        queued: VecDeque::new(),
        pushed: 0,
        taken: [0; KINDS.len()],
    }));
    let lock = |f: &std::sync::Mutex<Feeder>| {
        let mut guard = f.lock().unwrap_or_else(|p| p.into_inner());
        guard.feed(&server);
        guard.stats(&server)
    };
    lock(&feeder);
    let ticker = {
        let (feeder, server) = (feeder.clone(), server.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            loop {
                tick.tick().await;
                feeder
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .feed(&server);
            }
        })
    };
    let waited = stopped().await;
    ticker.abort();
    report(&lock(&feeder));
    match waited {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&format!("cannot wait for a signal: {error}"), 2),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => return fail(&message, 1),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let reply = args.config.default_reply.clone();
    let server = match TestServer::start_on(args.config, addr).await {
        Ok(server) => server,
        Err(error) => return fail(&format!("cannot listen on {addr}: {error}"), 1),
    };
    server.set_recording(false);
    announce(&server);
    if args.mix.active() {
        return serve_faulty(Arc::new(server), args.mix, reply).await;
    }
    if let Err(error) = tokio::signal::ctrl_c().await {
        return fail(&format!("cannot wait for Ctrl-C: {error}"), 2);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a command line written as one string.
    fn args(line: &str) -> Result<Args, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn faults_are_parsed_and_checked() {
        let a = args("serve --protocol openai --fault 5xx=0.1 --fault cut=0.2 --hang 5 --pace 20")
            .expect("valid arguments");
        assert_eq!(a.mix.faults, [(Kind::Status5xx, 0.1), (Kind::Cut, 0.2)]);
        assert_eq!(a.mix.hang, Duration::from_secs(5));
        assert_eq!(a.mix.pace, Some(Duration::from_millis(20)));
        assert!(a.mix.active());
        let plain = args("serve --protocol openai").expect("valid");
        assert!(!plain.mix.active());
        assert!(
            args("serve --protocol openai --stats")
                .expect("valid")
                .mix
                .active()
        );
        for bad in [
            "serve --protocol openai --fault oops=0.1",
            "serve --protocol openai --fault 5xx",
            "serve --protocol openai --fault 5xx=-1",
            "serve --protocol openai --fault 5xx=0.6 --fault cut=0.6",
            "serve --protocol openai --fault cut=0.1 --fault cut=0.1",
            "serve --protocol openai --cut-after x",
        ] {
            assert!(args(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn draws_follow_the_fractions() {
        let a = args("serve --protocol openai --fault 5xx=0.25 --fault drop=0.25")
            .expect("valid arguments");
        let reply = Reply::text("a b c");
        let mut rng = Rng(7);
        let mut counts = [0u32; KINDS.len()];
        for _ in 0..40_000 {
            let (u, v) = (rng.unit(), rng.next());
            let (kind, step) = a.mix.draw(u, v, &reply);
            counts[kind as usize] += 1;
            match kind {
                Kind::Status5xx => assert!(matches!(step, Step::Status(500 | 502 | 503))),
                Kind::Drop => assert_eq!(step, Step::Drop),
                _ => assert_eq!(step, Step::Reply(reply.clone())),
            }
        }
        let expected = [
            (Kind::Reply, 20_000),
            (Kind::Status5xx, 10_000),
            (Kind::Drop, 10_000),
        ];
        for (kind, n) in expected {
            let got = counts[kind as usize];
            assert!(got.abs_diff(n) < 600, "{kind:?}: {got}");
        }
    }
}
