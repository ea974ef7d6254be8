//! `rightfit-loadgen --url URL --rate R [--duration S] [--warmup S] [--timeout S]
//! [--connections N] [--model M] [--key KEY] [--body JSON]`: open-loop, constant-rate HTTP load
//! for the gateway benchmark (scripts/bench-gateway). Prints one JSON object with the figures.
//!
//! Open loop: request i is due at `start + i / rate` whatever happened to the earlier ones, and its
//! latency runs from that due time to the last byte of the answer. A slow server therefore shows
//! its queueing in the latencies instead of slowing the generator down (no coordinated omission).
//! Warm-up requests are sent at the same rate and not counted.
//!
//! The schedule is kept by a plain thread that sleeps until each due time (Linux sleeps wake
//! within about 0.1 ms; tokio's timer would round every due time up to its 1 ms tick, an error as
//! large as the overhead being measured) and hands due times to a single-threaded tokio runtime;
//! when it falls behind it sends the overdue requests at once (burst), and the JSON says how far
//! behind it was (`lag_*`). At most `--connections` requests are in flight on keep-alive
//! connections (default: rate / 10, at least 16, so 100 ms of answers in flight at full rate); a
//! request waiting for a free connection is waiting inside its latency, as a real client's would.
//!
//! Latency percentiles cover every request due in the measured window: a failed one counts with
//! the time it took to fail, a timed-out one with the timeout. `ok` counts 2xx answers read to the
//! end; `errors` maps what went wrong (`status_503`, `timeout`, `connect`, `body`) to counts.
//!
//! For soak tests (scripts/soak): `--stream-fraction F` asks for a stream (`"stream": true` with
//! usage) in that share of requests, spread evenly, naming `--stream-model` (default `--model`);
//! a streamed answer is ok only when it ends with `data: [DONE]` (else `incomplete_stream`).
//! `--disconnect-fraction F` hangs up on that share of the streamed requests as soon as the first
//! bytes of the answer arrive (`disconnected`). `--ids FILE` writes one line per request whose
//! answer carried an id: its outcome (`ok` or the error kind) and the id.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

const USAGE: &str = "usage: rightfit-loadgen --url URL --rate R [--duration S (10)] [--warmup S (2)] [--timeout S (10)] [--connections N (rate/10, >= 16)] [--model M (bench)] [--key KEY] [--body JSON] [--stream-fraction F (0)] [--stream-model M] [--disconnect-fraction F (0)] [--ids FILE]";

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    url: Uri,
    rate: f64,
    duration: Duration,
    warmup: Duration,
    timeout: Duration,
    connections: usize,
    key: Option<String>,
    body: Bytes,
    /// The body of a streamed request.
    stream_body: Bytes,
    stream_fraction: f64,
    disconnect_fraction: f64,
    ids: Option<std::path::PathBuf>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut url = None;
    let mut rate = None;
    let mut duration = 10.0;
    let mut warmup = 2.0;
    let mut timeout = 10.0;
    let mut connections = None;
    let mut model = "bench".to_owned();
    let mut key = None;
    let mut body = None;
    let mut stream_model = None;
    let mut stream_fraction = 0.0;
    let mut disconnect_fraction = 0.0;
    let mut ids = None;
    let fraction = |flag: &str, raw: String| -> Result<f64, String> {
        match raw.parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
            _ => Err(format!("{flag} '{raw}' is not a fraction between 0 and 1")),
        }
    };
    let seconds = |flag: &str, raw: String| -> Result<f64, String> {
        match raw.parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
            _ => Err(format!("{flag} '{raw}' is not a number of seconds")),
        }
    };
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--url" => {
                let raw = value()?;
                let parsed: Uri = raw
                    .parse()
                    .map_err(|e| format!("--url '{raw}' is not a URL: {e}"))?;
                if parsed.scheme_str() != Some("http") {
                    return Err(format!("--url '{raw}': only http:// URLs are supported"));
                }
                url = Some(parsed);
            }
            "--rate" => {
                let raw = value()?;
                rate = Some(match raw.parse::<f64>() {
                    Ok(r) if r.is_finite() && r > 0.0 => r,
                    _ => return Err(format!("--rate '{raw}' is not a positive number")),
                });
            }
            "--duration" => duration = seconds("--duration", value()?)?,
            "--warmup" => warmup = seconds("--warmup", value()?)?,
            "--timeout" => timeout = seconds("--timeout", value()?)?,
            "--connections" => {
                let raw = value()?;
                connections = Some(match raw.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("--connections '{raw}' is not a positive integer")),
                });
            }
            "--model" => model = value()?,
            "--key" => key = Some(value()?),
            "--body" => body = Some(value()?),
            "--stream-model" => stream_model = Some(value()?),
            "--stream-fraction" => stream_fraction = fraction("--stream-fraction", value()?)?,
            "--disconnect-fraction" => {
                disconnect_fraction = fraction("--disconnect-fraction", value()?)?;
            }
            "--ids" => ids = Some(std::path::PathBuf::from(value()?)),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    let url = url.ok_or_else(|| format!("--url is required\n{USAGE}"))?;
    let rate = rate.ok_or_else(|| format!("--rate is required\n{USAGE}"))?;
    if duration <= 0.0 {
        return Err("--duration must be more than 0 seconds".to_owned());
    }
    let body = match body {
        Some(raw) => {
            serde_json::from_str::<Value>(&raw).map_err(|e| format!("--body is not JSON: {e}"))?
        }
        None => json!({
            "model": model,
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 16,
        }),
    };
    let mut stream_body = body.clone();
    if let Some(fields) = stream_body.as_object_mut() {
        fields.insert("stream".into(), json!(true));
        fields.insert("stream_options".into(), json!({"include_usage": true}));
        if let Some(m) = stream_model {
            fields.insert("model".into(), json!(m));
        }
    } else if stream_fraction > 0.0 {
        return Err("--stream-fraction needs a --body that is a JSON object".to_owned());
    }
    Ok(Args {
        url,
        rate,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup),
        timeout: Duration::from_secs_f64(timeout),
        connections: connections.unwrap_or_else(|| ((rate / 10.0).ceil() as usize).max(16)),
        key,
        body: Bytes::from(body.to_string()),
        stream_body: Bytes::from(stream_body.to_string()),
        stream_fraction,
        disconnect_fraction,
        ids,
    })
}

/// One request's fate.
#[derive(Debug)]
struct Sample {
    due: Instant,
    /// From the due time to the moment its task ran: the generator's own delay.
    lag: Duration,
    /// From the due time to the end of the answer, or to the failure.
    latency: Duration,
    /// None for a 2xx answer read to the end, else what went wrong.
    error: Option<String>,
    /// The answer's `id`, when it had one.
    id: Option<String>,
    streamed: bool,
}

/// What one request does.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    stream: bool,
    /// Hang up when the first bytes of the answer arrive.
    disconnect: bool,
}

/// Whether request `i` is among an evenly spread `fraction` of all.
fn picked(i: u64, fraction: f64) -> bool {
    fraction > 0.0 && ((i + 1) as f64 * fraction).floor() > (i as f64 * fraction).floor()
}

/// The `id` of a whole answer, or of a stream's first `data:` event.
fn answer_id(body: &[u8], streamed: bool) -> Option<String> {
    let json = if streamed {
        let text = std::str::from_utf8(body).ok()?;
        let line = text.lines().find_map(|l| l.strip_prefix("data: "))?;
        serde_json::from_str::<Value>(line).ok()?
    } else {
        serde_json::from_slice::<Value>(body).ok()?
    };
    json.get("id")?.as_str().map(str::to_owned)
}

/// Whether a stream ended with OpenAI's end marker.
fn stream_complete(body: &[u8]) -> bool {
    body.trim_ascii_end().ends_with(b"data: [DONE]")
}

type HttpClient = Client<HttpConnector, Body>;

async fn one(
    client: HttpClient,
    args: Arc<Args>,
    due: Instant,
    shape: Shape,
    slots: Arc<Semaphore>,
    results: mpsc::UnboundedSender<Sample>,
) {
    let lag = Instant::now().saturating_duration_since(due);
    let deadline = tokio::time::Instant::from_std(due + args.timeout);
    let mut id = None;
    let outcome = tokio::time::timeout_at(deadline, async {
        // A closed semaphore cannot happen (nobody closes it); count it as a failure if it did.
        let Ok(_slot) = slots.acquire().await else {
            return Some("closed".to_owned());
        };
        let (body, accept) = if shape.stream {
            (args.stream_body.clone(), "text/event-stream")
        } else {
            (args.body.clone(), "application/json")
        };
        let mut request = Request::post(args.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, accept);
        if let Some(key) = &args.key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = match request.body(Body::from(body)) {
            Ok(request) => request,
            Err(_) => return Some("request".to_owned()),
        };
        let response = match client.request(request).await {
            Ok(response) => response,
            Err(_) => return Some("connect".to_owned()),
        };
        let status = response.status();
        let body = Body::new(response.into_body());
        if shape.disconnect {
            // Read the first bytes, then drop the answer: the connection closes mid-answer.
            let mut frames = body.into_data_stream();
            if let Some(Ok(first)) = frames.next().await {
                id = answer_id(&first, true);
            }
            return Some("disconnected".to_owned());
        }
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return Some("body".to_owned());
        };
        id = answer_id(&bytes, shape.stream);
        if !status.is_success() {
            return Some(format!("status_{}", status.as_u16()));
        }
        (shape.stream && !stream_complete(&bytes)).then(|| "incomplete_stream".to_owned())
    })
    .await
    .unwrap_or_else(|_| Some("timeout".to_owned()));
    // The receiver lives until every sender is gone, so this cannot fail.
    let _ = results.send(Sample {
        due,
        lag,
        latency: due.elapsed(),
        error: outcome,
        id,
        streamed: shape.stream,
    });
}

/// Nearest-rank percentile of sorted milliseconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn round3(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

async fn run(args: Args) -> Value {
    let args = Arc::new(args);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.connections)
        .build(connector);
    let slots = Arc::new(Semaphore::new(args.connections));

    let total = ((args.warmup + args.duration).as_secs_f64() * args.rate).round() as u64;
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + args.warmup;
    let rate = args.rate;
    let (due_tx, mut due_rx) = mpsc::unbounded_channel::<Instant>();
    let scheduler = std::thread::spawn(move || {
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if due_tx.send(due).is_err() {
                break;
            }
        }
    });

    let (results_tx, mut results_rx) = mpsc::unbounded_channel::<Sample>();
    let (mut sent, mut streamed) = (0u64, 0u64);
    while let Some(due) = due_rx.recv().await {
        let mut shape = Shape::default();
        if picked(sent, args.stream_fraction) {
            shape.stream = true;
            shape.disconnect = picked(streamed, args.disconnect_fraction);
            streamed += 1;
        }
        sent += 1;
        tokio::spawn(one(
            client.clone(),
            Arc::clone(&args),
            due,
            shape,
            Arc::clone(&slots),
            results_tx.clone(),
        ));
    }
    drop(results_tx);
    let scheduler_ok = scheduler.join().is_ok();

    let mut latencies = Vec::new();
    let mut lags = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut ids = String::new();
    let mut streamed = 0u64;
    while let Some(sample) = results_rx.recv().await {
        if sample.due < measure_from {
            continue;
        }
        latencies.push(millis(sample.latency));
        lags.push(millis(sample.lag));
        streamed += u64::from(sample.streamed);
        if let Some(id) = &sample.id {
            let outcome = sample.error.as_deref().unwrap_or("ok");
            ids.push_str(&format!("{outcome} {id}\n"));
        }
        if let Some(error) = sample.error {
            *errors.entry(error).or_default() += 1;
        }
    }
    let ids_written = match &args.ids {
        Some(path) => std::fs::write(path, ids).map_err(|e| e.to_string()).err(),
        None => None,
    };
    latencies.sort_by(f64::total_cmp);
    lags.sort_by(f64::total_cmp);
    let sent = latencies.len() as u64;
    let failed: u64 = errors.values().sum();
    json!({
        "url": args.url.to_string(),
        "rate": args.rate,
        "duration_s": args.duration.as_secs_f64(),
        "warmup_s": args.warmup.as_secs_f64(),
        "timeout_s": args.timeout.as_secs_f64(),
        "connections": args.connections,
        "sent": sent,
        "ok": sent - failed,
        "errors": failed,
        "error_kinds": errors,
        "p50_ms": round3(percentile(&latencies, 50.0)),
        "p90_ms": round3(percentile(&latencies, 90.0)),
        "p99_ms": round3(percentile(&latencies, 99.0)),
        "p999_ms": round3(percentile(&latencies, 99.9)),
        "max_ms": round3(latencies.last().copied().unwrap_or(f64::NAN)),
        "mean_ms": round3(latencies.iter().sum::<f64>() / latencies.len() as f64),
        "lag_p50_ms": round3(percentile(&lags, 50.0)),
        "lag_p99_ms": round3(percentile(&lags, 99.0)),
        "lag_max_ms": round3(lags.last().copied().unwrap_or(f64::NAN)),
        "scheduler_ok": scheduler_ok,
        "streamed": streamed,
        "ids_error": ids_written,
    })
}

// The JSON report on stdout is this binary's output.
#[allow(clippy::print_stdout)]
fn report(value: &Value) {
    println!("{value}");
}

// Errors go to stderr, for the person or script that started the run.
#[allow(clippy::print_stderr)]
fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("rightfit-loadgen: {message}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => return fail(&message, 1),
    };
    // One thread for all the requests (plus the scheduling thread, asleep most of the time): the
    // generator takes at most about one core from the servers it measures.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the tokio runtime: {error}"), 2),
    };
    let value = runtime.block_on(run(args));
    report(&value);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&sorted, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn shares_are_spread_evenly_and_exact() {
        let every_fourth: Vec<u64> = (0..12).filter(|&i| picked(i, 0.25)).collect();
        assert_eq!(every_fourth, [3, 7, 11]);
        assert_eq!((0..1000).filter(|&i| picked(i, 0.1)).count(), 100);
        assert_eq!((0..1000).filter(|&i| picked(i, 1.0)).count(), 1000);
        assert!(!(0..1000).any(|i| picked(i, 0.0)));
    }

    #[test]
    fn answers_give_their_id_and_streams_their_end() {
        assert_eq!(
            answer_id(br#"{"id": "req_1", "choices": []}"#, false).as_deref(),
            Some("req_1")
        );
        let stream = b"data: {\"id\":\"req_2\"}\n\ndata: [DONE]\n\n";
        assert_eq!(answer_id(stream, true).as_deref(), Some("req_2"));
        assert!(stream_complete(stream));
        assert!(!stream_complete(b"data: {\"id\":\"req_2\"}\n\n"));
        assert_eq!(answer_id(b"{", false), None);
    }

    #[test]
    fn arguments_have_defaults_and_are_checked() {
        let a = args(&[
            "--url",
            "http://127.0.0.1:9/v1/chat/completions",
            "--rate",
            "1000",
        ])
        .expect("valid arguments");
        assert_eq!(a.connections, 100);
        assert_eq!(a.duration, Duration::from_secs(10));
        assert_eq!(a.warmup, Duration::from_secs(2));
        let body: Value = serde_json::from_slice(&a.body).expect("the default body is JSON");
        assert_eq!(body["model"], "bench");
        assert_eq!(
            args(&["--url", "http://x/", "--rate", "50"])
                .expect("valid")
                .connections,
            16
        );
        assert!(args(&["--url", "https://x/", "--rate", "1"]).is_err());
        assert!(args(&["--url", "http://x/", "--rate", "0"]).is_err());
        assert!(args(&["--url", "http://x/"]).is_err());
        assert!(args(&["--url", "http://x/", "--rate", "1", "--body", "{"]).is_err());
        assert!(
            args(&[
                "--url",
                "http://x/",
                "--rate",
                "1",
                "--stream-fraction",
                "2"
            ])
            .is_err()
        );
        let s = args(&[
            "--url",
            "http://x/",
            "--rate",
            "1",
            "--stream-fraction",
            "0.5",
            "--stream-model",
            "other",
        ])
        .expect("valid");
        let body: Value = serde_json::from_slice(&s.stream_body).expect("JSON");
        assert_eq!(body["stream"], true);
        assert_eq!(body["model"], "other");
        let plain: Value = serde_json::from_slice(&s.body).expect("JSON");
        assert_eq!(plain.get("stream"), None);
    }
}
