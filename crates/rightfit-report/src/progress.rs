//! Progress on stderr for every kind of long work (`rightfit_types::progress`): one [`Bars`]
//! draws downloads, an evaluation's candidates and a distillation's phases and training, a bar
//! at a time, and only when stderr is a terminal; its notes are printed either way. [`spinner`]
//! is for work without a count. The one part of this crate that writes rather than returns text.

use std::io::IsTerminal;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rightfit_types::progress::{Progress, TrainingFigures, Unit};

/// The bar being drawn, if any, and what it counts.
#[derive(Debug)]
pub struct Bars {
    bar: Mutex<Option<(ProgressBar, Unit)>>,
    draw: bool,
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Bars {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            draw: std::io::stderr().is_terminal(),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<(ProgressBar, Unit)>> {
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A bar of `total` steps (unknown: `None`) in `template`'s style, labelled `label`.
    fn bar(&self, total: Option<u64>, template: &str, label: &str) -> ProgressBar {
        let target = if self.draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        let style =
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_message(label.to_owned());
        bar
    }
}

/// A line on stderr, kept off stdout (which may be the result).
fn eprint_line(text: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{text}");
    }
}

/// The training figures after the bar's count: epoch, loss, speed and validation.
fn training_status(f: &TrainingFigures) -> String {
    let mut text = format!(
        "epoch {}/{} loss {:.4} {:.1} ex/s",
        f.epoch, f.epochs, f.loss, f.examples_per_s
    );
    if let Some(v) = f.validation_loss {
        text.push_str(&format!(" val loss {v:.4}"));
    }
    if let Some(a) = f.validation_accuracy {
        text.push_str(&format!(" val acc {:.1}%", a * 100.0));
    }
    text
}

impl Progress for Bars {
    fn start(&self, label: &str, total: Option<u64>, done: u64, unit: Unit) {
        self.finish();
        let template = match unit {
            Unit::Bytes => "{msg:>12} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            Unit::Examples => "{msg:<28} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {prefix}",
            Unit::Items => "{msg:<16} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
        };
        let bar = self.bar(total, template, label);
        bar.set_position(done);
        if unit != Unit::Bytes {
            bar.enable_steady_tick(Duration::from_millis(250));
        }
        *self.slot() = Some((bar, unit));
    }

    fn advance(&self, n: u64) {
        if let Some((bar, _)) = self.slot().as_ref() {
            bar.inc(n);
        }
    }

    fn failed(&self) {
        if let Some((bar, _)) = self.slot().as_ref() {
            bar.set_prefix("(failures: see the report)");
        }
    }

    fn training(&self, f: &TrainingFigures) {
        let mut slot = self.slot();
        let (bar, _) = slot.get_or_insert_with(|| {
            let template = "{msg:<16} [{bar:30}] step {pos}/{len} eta {eta} {prefix}";
            let bar = self.bar(Some(f.steps), template, "training");
            bar.enable_steady_tick(Duration::from_millis(250));
            (bar, Unit::Items)
        });
        bar.set_length(f.steps);
        bar.set_position(f.step);
        bar.set_prefix(training_status(f));
    }

    /// Clears the bar and says what it counted: "NAME: 12/40 examples done (3.1 s)" or "NAME: 12
    /// done (3.1 s)"; nothing for bytes.
    fn finish(&self) {
        let Some((bar, unit)) = self.slot().take() else {
            return;
        };
        bar.finish_and_clear();
        let (name, n, secs) = (bar.message(), bar.position(), bar.elapsed().as_secs_f64());
        match unit {
            Unit::Bytes => {}
            Unit::Examples => {
                let total = bar.length().unwrap_or(0);
                eprint_line(&format!("{name}: {n}/{total} examples done ({secs:.1} s)"));
            }
            Unit::Items => eprint_line(&format!("{name}: {n} done ({secs:.1} s)")),
        }
    }

    fn note(&self, text: &str) {
        match self.slot().as_ref() {
            Some((bar, _)) => bar.println(text),
            None => eprint_line(text),
        }
    }
}

/// A spinner for work without a count (loading a model, running a benchmark); hidden when
/// stderr is not a terminal.
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
