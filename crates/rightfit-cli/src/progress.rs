//! Progress on stderr, drawn only when stderr is a terminal: one [`Bars`] reports downloads
//! (`rightfit_llama::fetch`), an evaluation's candidates (`rightfit_eval::runner`) and a
//! distillation's phases (`rightfit_distill::progress`), one bar at a time; [`spinner`] is for
//! work without a count.

use std::io::IsTerminal;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rightfit_distill::progress::{Progress as DistillProgress, TrainingFigures};
use rightfit_eval::runner::Progress as EvalProgress;
use rightfit_llama::fetch::Progress as FetchProgress;

use crate::commands::output::note;

/// The bar being drawn, if any.
#[derive(Debug)]
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    draw: bool,
}

impl Bars {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            draw: std::io::stderr().is_terminal(),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A bar of `total` steps (unknown: `None`) in `template`'s style, labelled `message`,
    /// ticking every `tick` when given.
    fn start(&self, total: Option<u64>, template: &str, message: &str, tick: bool) -> ProgressBar {
        let target = if self.draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        let style =
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_message(message.to_owned());
        if tick {
            bar.enable_steady_tick(Duration::from_millis(250));
        }
        bar
    }

    fn inc(&self, n: u64) {
        if let Some(b) = self.slot().as_ref() {
            b.inc(n);
        }
    }

    /// Clears the bar; its label, count and seconds.
    fn finish(&self) -> Option<(String, u64, Option<u64>, f64)> {
        let b = self.slot().take()?;
        let done = (
            b.message(),
            b.position(),
            b.length(),
            b.elapsed().as_secs_f64(),
        );
        b.finish_and_clear();
        Some(done)
    }
}

impl FetchProgress for Bars {
    fn stage(&mut self, message: &str) {
        note(message);
    }

    fn start(&mut self, label: &str, total_bytes: u64) {
        let template = "{msg:>12} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";
        *self.slot() = Some(Bars::start(self, Some(total_bytes), template, label, false));
    }

    fn advance(&mut self, bytes: u64) {
        self.inc(bytes);
    }

    fn finish(&mut self) {
        Bars::finish(self);
    }
}

impl EvalProgress for Bars {
    fn candidate(&self, name: &str, total: u64, done: u64) {
        let template = "{msg:<28} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {prefix}";
        let bar = self.start(Some(total), template, name, true);
        bar.set_position(done);
        *self.slot() = Some(bar);
    }

    fn advance(&self, failed: bool) {
        if let Some(bar) = self.slot().as_ref() {
            bar.inc(1);
            if failed {
                bar.set_prefix("(failures: see the report)");
            }
        }
    }

    fn finish_candidate(&self) {
        if let Some((name, n, total, secs)) = self.finish() {
            let total = total.unwrap_or(0);
            note(format!("{name}: {n}/{total} examples done ({secs:.1} s)"));
        }
    }
}

impl DistillProgress for Bars {
    fn phase(&self, name: &str, total: Option<u64>) {
        DistillProgress::finish_phase(self);
        let template = "{msg:<16} [{bar:30}] {pos}/{len} {per_sec} eta {eta}";
        *self.slot() = Some(self.start(total, template, name, true));
    }

    fn advance(&self, n: u64) {
        self.inc(n);
    }

    fn finish_phase(&self) {
        if let Some((name, n, _, secs)) = self.finish() {
            DistillProgress::note(self, &format!("{name}: {n} done ({secs:.1} s)"));
        }
    }

    fn training(&self, f: &TrainingFigures) {
        let mut slot = self.slot();
        let bar = slot.get_or_insert_with(|| {
            let template = "{msg:<16} [{bar:30}] step {pos}/{len} eta {eta} {prefix}";
            self.start(Some(f.steps), template, "training", true)
        });
        bar.set_length(f.steps);
        bar.set_position(f.step);
        let mut figures = format!(
            "epoch {}/{} loss {:.4} {:.1} ex/s",
            f.epoch, f.epochs, f.loss, f.examples_per_s
        );
        if let Some(v) = f.validation_loss {
            figures.push_str(&format!(" val loss {v:.4}"));
        }
        if let Some(a) = f.validation_accuracy {
            figures.push_str(&format!(" val acc {:.1}%", a * 100.0));
        }
        bar.set_prefix(figures);
    }

    fn note(&self, text: &str) {
        match self.slot().as_ref() {
            Some(bar) => bar.println(text),
            None => note(text),
        }
    }
}

/// A spinner for work without a count (loading a model, running a benchmark).
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
