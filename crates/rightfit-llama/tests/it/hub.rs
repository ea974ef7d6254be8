//! Pulling from the Hugging Face Hub's HTTP interface, against a local stand-in
//! (`FetchOptions::hf_endpoint`, which `HF_ENDPOINT` sets): the download URL, its redirect to
//! storage, the token, the hash check, and the errors of a missing, gated, unreachable or
//! stalled Hub.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rightfit_llama::catalog::{CatalogEntry, Source};
use rightfit_llama::fetch::FetchOptions;
use rightfit_llama::models::{ModelStore, ModelStoreError};
use rightfit_types::progress::Quiet;
use sha2::{Digest, Sha256};

/// The file the stand-in serves at `/owner/repo/resolve/main/model.gguf` (through a redirect).
fn body() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// A stand-in for the Hub: each request's head is recorded, and answered as the Hub does.
struct Hub {
    addr: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn hub() -> Hub {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let seen = seen.clone();
            std::thread::spawn(move || answer(stream, &seen));
        }
    });
    Hub { addr, requests }
}

fn answer(mut stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut head = String::new();
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    seen.lock().expect("lock").push(head.clone());
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let reply = |status: &str, headers: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    let out = match path {
        // The Hub redirects a download to its storage.
        "/owner/repo/resolve/main/model.gguf" => reply(
            "302 Found",
            "Location: /storage/abc123?signature=x\r\n",
            b"",
        ),
        "/storage/abc123?signature=x" => reply("200 OK", "", &body()),
        "/owner/gated/resolve/main/model.gguf" => reply(
            "401 Unauthorized",
            "",
            b"Access to model owner/gated is restricted.",
        ),
        _ => reply("404 Not Found", "", b"Entry not found"),
    };
    let _ = stream.write_all(&out);
}

fn entry(repo: &'static str, sha256: &'static str) -> CatalogEntry {
    CatalogEntry {
        name: "hub-test",
        description: "fixture",
        architecture: "none",
        parameters: "0",
        quantization: "none",
        license: "none",
        file_name: "hub-test.gguf",
        size: 300_000,
        sha256,
        chat_template: None,
        shape: None,
        sources: Box::leak(Box::new([Source::HuggingFace {
            repo,
            file: "model.gguf",
            revision: "main",
        }])),
    }
}

fn sha() -> &'static str {
    Box::leak(hex::encode(Sha256::digest(body())).into_boxed_str())
}

fn pull(
    endpoint: &str,
    entry: &CatalogEntry,
) -> (tempfile::TempDir, Result<PathBuf, ModelStoreError>) {
    let home = tempfile::tempdir().expect("home");
    let options = FetchOptions {
        hf_endpoint: endpoint.to_owned(),
        hf_token: Some("hf_test_token".to_owned()),
        hub_timeout: Duration::from_secs(2),
        ..FetchOptions::default()
    };
    let store = ModelStore::new(home.path().join("models"));
    let result = store.pull_entry(entry, None, false, &options, &Quiet);
    (home, result)
}

fn leftovers(home: &tempfile::TempDir) -> Vec<PathBuf> {
    std::fs::read_dir(home.path().join("models"))
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn a_hub_download_follows_its_redirect_and_is_verified() {
    let hub = hub();
    let (home, result) = pull(&format!("{}/", hub.addr), &entry("owner/repo", sha()));
    let path = result.expect("pulled");
    assert_eq!(std::fs::read(&path).expect("read"), body());
    assert_eq!(leftovers(&home), vec![path], "no temporary file is left");
    let requests = hub.requests.lock().expect("lock");
    assert!(
        requests[0].starts_with("GET /owner/repo/resolve/main/model.gguf HTTP/1.1"),
        "{requests:?}"
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer hf_test_token"),
        "{requests:?}"
    );
    assert!(
        requests[1].starts_with("GET /storage/abc123"),
        "{requests:?}"
    );
}

#[test]
fn a_hub_file_with_another_hash_is_refused_and_leaves_nothing() {
    let hub = hub();
    let wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    let (home, result) = pull(&hub.addr, &entry("owner/repo", wrong));
    let err = result.expect_err("hash mismatch").to_string();
    assert!(err.contains("SHA-256 mismatch"), "{err}");
    assert!(leftovers(&home).is_empty(), "{:?}", leftovers(&home));
}

#[test]
fn missing_and_gated_hub_files_are_explained() {
    let hub = hub();
    let (_home, result) = pull(&hub.addr, &entry("owner/nothing", sha()));
    let err = result.expect_err("404").to_string();
    assert!(
        err.contains("hub-test")
            && err.contains("HTTP 404")
            && err.contains("/owner/nothing/resolve/main/model.gguf"),
        "{err}"
    );
    let (_home, result) = pull(&hub.addr, &entry("owner/gated", sha()));
    let err = result.expect_err("401").to_string();
    assert!(
        err.contains("HTTP 401") && err.contains("HF_TOKEN"),
        "{err}"
    );
}

#[test]
fn an_unreachable_hub_is_an_error_that_names_it() {
    // A port nothing listens on: the connection is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let (home, result) = pull(&endpoint, &entry("owner/repo", sha()));
    let err = result.expect_err("unreachable").to_string();
    assert!(
        err.contains(&format!("cannot reach {endpoint}")) && err.contains("HF_ENDPOINT"),
        "{err}"
    );
    assert!(leftovers(&home).is_empty());
}

#[test]
fn a_stalled_hub_times_out_instead_of_hanging() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().expect("lock").push(stream);
        }
    });
    let (home, result) = pull(&endpoint, &entry("owner/repo", sha()));
    let err = result.expect_err("timed out").to_string();
    assert!(
        err.contains(&format!("{endpoint} stopped answering")) && err.contains("2 s"),
        "{err}"
    );
    assert!(!held.lock().expect("lock").is_empty(), "it did connect");
    assert!(leftovers(&home).is_empty());
}
