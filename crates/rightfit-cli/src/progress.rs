//! Progress bars on stderr, drawn only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rightfit_eval::runner::Progress as EvalProgress;
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
        let bar = bar(
            total_bytes,
            "{msg:>12} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            self.draw,
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

/// A bar of `total` steps in `template`'s style, drawn on stderr when `draw`.
fn bar(total: u64, template: &str, draw: bool) -> ProgressBar {
    let target = if draw {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar
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

/// Progress bars, one per candidate, on stderr.
pub struct CandidateBars {
    bar: Mutex<Option<(ProgressBar, Instant, String)>>,
    draw: bool,
}

impl CandidateBars {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            draw: std::io::stderr().is_terminal(),
        }
    }
}

impl EvalProgress for CandidateBars {
    fn candidate(&self, name: &str, total: u64, done: u64) {
        let template = "{msg:<28} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {prefix}";
        let bar = bar(total, template, self.draw);
        bar.set_message(name.to_owned());
        bar.set_position(done);
        bar.enable_steady_tick(Duration::from_millis(250));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some((bar, Instant::now(), name.to_owned()));
        }
    }

    fn advance(&self, failed: bool) {
        if let Ok(slot) = self.bar.lock()
            && let Some((bar, _, _)) = slot.as_ref()
        {
            bar.inc(1);
            if failed {
                bar.set_prefix("(failures: see the report)");
            }
        }
    }

    fn finish_candidate(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some((bar, started, name)) = slot.take()
        {
            let n = bar.position();
            let secs = started.elapsed().as_secs_f64();
            bar.finish_and_clear();
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "{name}: {n}/{} examples done ({secs:.1} s)",
                    bar.length().unwrap_or(0)
                );
            }
        }
    }
}
