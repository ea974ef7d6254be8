//! `rightfit distill` and `rightfit students list | show | rm`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rightfit_config::Settings;
use rightfit_config::project::{Component, Project};
use rightfit_distill::export::{self, ExportFormat};
use rightfit_distill::job::{Distill, Outcome, find};
use rightfit_distill::manifest;
use rightfit_distill::progress::{Progress, TrainingFigures};
use rightfit_eval::prompt::Templates;
use rightfit_registry::ModelRegistry;
use rightfit_report::StudentListing;
use rightfit_types::StudentManifest;

use super::output::{json, line};
use crate::args::{DistillArgs, StudentsCommand, TrainingFormat};
use crate::errors::user;

/// `rightfit distill`.
pub async fn run(settings: &Settings, args: DistillArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let store = super::common::open_store(&project, &args.project).await?;
    let mut chosen = Vec::new();
    for (name, c) in &project.components {
        if !args.components.is_empty() && !args.components.contains(name) {
            continue;
        }
        for s in &c.students {
            if args.students.is_empty() || args.students.contains(&s.name) {
                chosen.push((name.clone(), s.name.clone()));
            }
        }
    }
    for name in args.components.iter().chain(&args.students) {
        if !chosen.iter().any(|(c, s)| c == name || s == name) {
            return Err(user(anyhow::anyhow!(
                "'{name}' names no student to train: see 'rightfit students list -c {}'",
                args.project.config.display()
            )));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("\ninterrupted: saving a checkpoint (Ctrl-C again to abort at once)");
            }
            flag.store(true, Ordering::Relaxed);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let registry = ModelRegistry::new(settings);
    let bars = DistillBars::new();
    let job = Distill {
        project: &project,
        registry: &registry,
        store: &store,
        progress: &bars,
        stop: &stop,
    };
    if let Some(format) = args.export {
        let [(component, student)] = chosen.as_slice() else {
            return Err(user(anyhow::anyhow!(
                "--export writes one student's rows: name its component and --student"
            )));
        };
        let (c, s) = find(&project, component, student).map_err(user)?;
        let set = job.training_set(c, s).await.map_err(user)?;
        let templates = Templates::new(c).map_err(|e| user(anyhow::anyhow!(e)))?;
        let format = match format {
            TrainingFormat::Openai => ExportFormat::OpenAi,
            TrainingFormat::PromptCompletion => ExportFormat::PromptCompletion,
        };
        let output = args.output.unwrap_or_default();
        let mut out: Box<dyn std::io::Write> = if output.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(&output)
                    .map_err(|e| user(anyhow::anyhow!("{}: {e}", output.display())))?,
            ))
        };
        let n = export::write(&mut out, &templates, &set, format).map_err(user)?;
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "{n} rows ({} train, {} validation; {} refused as also evaluated, {} dropped) -> {}",
                set.train.len(),
                set.validation.len(),
                set.refused_overlap,
                set.dropped.len(),
                output.display()
            );
        }
        return Ok(());
    }
    let mut manifests = Vec::new();
    for (component, student) in &chosen {
        let (c, s) = find(&project, component, student).map_err(user)?;
        bars.note(&format!("{component}.{student}: {}", s.data.describe()));
        let outcome = job.student(c, s, args.fresh).await;
        bars.finish_phase();
        let outcome = outcome.map_err(user)?;
        let (m, verb) = match &outcome {
            Outcome::Trained(m) => (m, "trained"),
            Outcome::UpToDate(m) => (
                m,
                "up to date (same data, settings and base; --fresh trains again)",
            ),
        };
        if !args.json {
            line(format!(
                "{component}.{student}: {verb}\n{}",
                rightfit_report::student_terminal(m).trim_end()
            ))?;
        }
        manifests.push(serde_json::to_value(m.as_ref())?);
    }
    if args.json {
        return json(&serde_json::Value::Array(manifests));
    }
    Ok(())
}

/// `rightfit students`.
pub fn students(cmd: StudentsCommand) -> anyhow::Result<()> {
    match cmd {
        StudentsCommand::List {
            project,
            json: as_json,
        } => {
            let p = super::project::load(&project.config)?;
            let listing = listing(&p);
            if as_json {
                let manifests: Vec<_> = listing.iter().map(|s| &s.manifest).collect();
                return json(&serde_json::to_value(manifests)?);
            }
            line(rightfit_report::students_terminal(&listing).trim_end())
        }
        StudentsCommand::Show { project, student } => {
            let p = super::project::load(&project.config)?;
            let (c, s) = split_name(&student)?;
            let (_, s) = find(&p, c, s).map_err(user)?;
            let m = manifest::read(&s.artefact).map_err(user)?;
            line(rightfit_report::student_terminal(&m).trim_end())
        }
        StudentsCommand::Rm { project, student } => {
            let p = super::project::load(&project.config)?;
            let (c, s) = split_name(&student)?;
            let (_, s) = find(&p, c, s).map_err(user)?;
            if !s.artefact.exists() {
                return Err(user(anyhow::anyhow!(
                    "{student} is not trained ({} does not exist)",
                    s.artefact.display()
                )));
            }
            std::fs::remove_dir_all(&s.artefact)
                .map_err(|e| user(anyhow::anyhow!("{}: {e}", s.artefact.display())))?;
            line(format!("removed {}", s.artefact.display()))
        }
    }
}

/// The component's candidates that answer with a trained student, with its manifest.
pub fn trained(c: &Component) -> Vec<(String, StudentManifest)> {
    c.candidates
        .iter()
        .filter_map(|cand| {
            let s = c.student(cand.student.as_deref()?)?;
            let m = manifest::read(&s.artefact).ok()?;
            Some((cand.name.clone(), m))
        })
        .collect()
}

fn split_name(model: &str) -> anyhow::Result<(&str, &str)> {
    model.split_once('.').ok_or_else(|| {
        user(anyhow::anyhow!(
            "'{model}': name a student as COMPONENT.STUDENT (see 'rightfit students list')"
        ))
    })
}

fn listing(p: &Project) -> Vec<StudentListing> {
    let mut out = Vec::new();
    for c in p.components.values() {
        for s in &c.students {
            let read = if s.artefact.exists() {
                manifest::read(&s.artefact).map_err(|e| e.to_string())
            } else {
                Err("not trained: run 'rightfit distill'".to_owned())
            };
            out.push(StudentListing {
                model: s.model.clone(),
                kind: s.kind.name().to_owned(),
                source: s.data.describe(),
                problem: read.as_ref().err().cloned(),
                manifest: read.ok(),
            });
        }
    }
    out
}

/// A bar per phase (labelling, embedding, tokenising) and one for training, on stderr.
struct DistillBars {
    bar: Mutex<Option<ProgressBar>>,
    draw: bool,
}

impl DistillBars {
    fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            draw: std::io::stderr().is_terminal(),
        }
    }

    fn start(&self, total: Option<u64>, template: &str, message: &str) -> ProgressBar {
        let target = if self.draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        bar
    }

    fn take(&self) -> Option<ProgressBar> {
        self.bar.lock().ok().and_then(|mut b| b.take())
    }
}

impl Progress for DistillBars {
    fn phase(&self, name: &str, total: Option<u64>) {
        self.finish_phase();
        let bar = self.start(
            total,
            "{msg:<16} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
            name,
        );
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(b) = slot.as_ref()
        {
            b.inc(n);
        }
    }

    fn finish_phase(&self) {
        if let Some(b) = self.take() {
            let (n, secs) = (b.position(), b.elapsed().as_secs_f64());
            let name = b.message();
            b.finish_and_clear();
            self.note(&format!("{name}: {n} done ({secs:.1} s)"));
        }
    }

    fn training(&self, f: &TrainingFigures) {
        let mut slot = match self.bar.lock() {
            Ok(s) => s,
            Err(_) => return,
        };
        let bar = slot.get_or_insert_with(|| {
            self.start(
                Some(f.steps),
                "{msg:<16} [{bar:30}] step {pos}/{len} eta {eta} {prefix}",
                "training",
            )
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
        let slot = self.bar.lock().ok();
        match slot.as_ref().and_then(|s| s.as_ref()) {
            Some(bar) => bar.println(text),
            #[allow(clippy::print_stderr)]
            None => eprintln!("{text}"),
        }
    }
}
