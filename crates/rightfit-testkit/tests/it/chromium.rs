//! The Chromium helper catches what it must: console errors and warnings, uncaught exceptions and
//! rejections, and requests that would leave the machine; it returns the DOM after scripts ran
//! and a real PNG; and a page that hangs is an error, not a hung test. Needs
//! `RIGHTFIT_TEST_CHROMIUM` (scripts/test-tools).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use rightfit_testkit::chromium::{Chromium, LoadOptions, PageLoad};

/// Writes `body` as a page in a fresh directory and loads it.
fn load(body: &str, options: &LoadOptions) -> io::Result<PageLoad> {
    let (_dir, path) = page(body);
    Chromium::from_env().load_file(&path, None, options)
}

fn page(body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("page.html");
    std::fs::write(
        &path,
        format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>t</title></head><body>{body}</body></html>"),
    )
    .unwrap();
    (dir, path)
}

#[test]
fn chromium_a_clean_page_has_no_problems_and_its_script_ran() {
    let load = load(
        "<p id=\"x\">before</p><script>document.getElementById('x').textContent = 'after ' + \
         location.hash; console.log('just a log');</script>",
        &LoadOptions {
            screenshot: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(load.problems(), Vec::<String>::new());
    assert_eq!(load.network_requests(), Vec::<&str>::new());
    assert!(load.dom.contains("<p id=\"x\">after </p>"), "{}", load.dom);
    // A plain log is kept but is no problem.
    assert!(
        load.console
            .iter()
            .any(|m| m.level == "log" && m.text == "just a log")
    );
    assert!(
        load.requests[0].starts_with("file://"),
        "{:?}",
        load.requests
    );
    let png = load.screenshot.unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
        "{} bytes",
        png.len()
    );
}

#[test]
fn chromium_the_fragment_reaches_the_page() {
    let (_dir, path) = page(
        "<p id=\"x\"></p><script>document.getElementById('x').textContent = location.hash;</script>",
    );
    let load = Chromium::from_env()
        .load_file(
            &path,
            Some("only=wrong&cand=a%2Fb"),
            &LoadOptions::default(),
        )
        .unwrap();
    assert!(
        load.dom
            .contains("<p id=\"x\">#only=wrong&amp;cand=a%2Fb</p>"),
        "{}",
        load.dom
    );
}

#[test]
fn chromium_console_errors_and_warnings_are_caught_with_their_level() {
    let load = load(
        "<script>console.error('deliberate error'); console.warn('deliberate warning');</script>",
        &LoadOptions::default(),
    )
    .unwrap();
    let problems = load.problems();
    assert!(
        problems.contains(&"console error: deliberate error".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"console warning: deliberate warning".to_owned()),
        "{problems:?}"
    );
}

#[test]
fn chromium_uncaught_exceptions_and_rejections_are_caught() {
    let load = load(
        "<script>throw new Error('deliberate boom');</script>\
         <script>Promise.reject(new Error('deliberate rejection'));</script>",
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(
        load.exceptions
            .iter()
            .any(|e| e.contains("deliberate boom")),
        "{:?}",
        load.exceptions
    );
    assert!(
        load.exceptions
            .iter()
            .any(|e| e.contains("deliberate rejection")),
        "{:?}",
        load.exceptions
    );
    assert!(load.problems().iter().any(|p| p.starts_with("exception: ")));
}

#[test]
fn chromium_requests_that_leave_the_machine_are_caught_and_fail() {
    let load = load(
        "<img src=\"http://127.0.0.1:9/x.png\">\
         <script>fetch('https://example.invalid/data.json').catch(() => {});</script>\
         <img src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\">",
        &LoadOptions::default(),
    )
    .unwrap();
    let network = load.network_requests();
    assert!(network.contains(&"http://127.0.0.1:9/x.png"), "{network:?}");
    assert!(
        network.contains(&"https://example.invalid/data.json"),
        "{network:?}"
    );
    assert_eq!(
        network.len(),
        2,
        "the data: image is not network: {network:?}"
    );
    // The image's failed load is also logged by the browser as an error.
    assert!(
        load.problems()
            .iter()
            .any(|p| p.contains("Failed to load resource")),
        "{:?}",
        load.problems()
    );
}

#[test]
fn chromium_requests_are_blocked_even_to_a_live_local_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/x.png", listener.local_addr().unwrap());
    let (_dir, path) = page(&format!(
        "<img src=\"{url}\"><script>fetch('{url}').catch(() => {{}});</script>"
    ));
    // Were the request let through, the page would wait for this silent server: fail fast then.
    let load = Chromium::from_env()
        .with_timeout(Duration::from_secs(15))
        .load_file(&path, None, &LoadOptions::default())
        .unwrap();
    assert!(
        load.network_requests().contains(&url.as_str()),
        "{:?}",
        load.requests
    );
    match listener.accept() {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        other => panic!("the page reached the server: {other:?}"),
    }
}

#[test]
fn chromium_a_page_that_hangs_is_an_error_within_the_timeout() {
    // The page never finishes loading: only the time limit ends the load (which limit applies
    // is checked by `with_timeout_replaces_the_default_limit`).
    let (_dir, path) = page("<script>for (;;) {}</script>");
    let err = Chromium::from_env()
        .with_timeout(Duration::from_secs(5))
        .load_file(&path, None, &LoadOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
}

#[test]
fn chromium_a_missing_page_is_an_error() {
    let err = Chromium::from_env()
        .load("file:///nonexistent/report.html", &LoadOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("ERR_FILE_NOT_FOUND"), "{err}");
}
