//! Progress bars on stderr, drawn only when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rightfit_llama::fetch::Progress;

/// Byte progress for downloads, copies and hashing.
#[derive(Debug)]
pub struct Bars {
    bar: Option<ProgressBar>,
    draw: bool,
}

impl Bars {
    pub fn new() -> Self {
        Self {
            bar: None,
            draw: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for Bars {
    fn stage(&mut self, message: &str) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{message}");
        }
    }

    fn start(&mut self, label: &str, total_bytes: u64) {
        let bar = ProgressBar::with_draw_target(
            Some(total_bytes),
            if self.draw {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        self.bar = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// A spinner for work without a byte count (loading a model, running a benchmark).
pub fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let s = ProgressBar::new_spinner();
    s.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    s.set_message(message.to_owned());
    s.enable_steady_tick(Duration::from_millis(120));
    s
}
