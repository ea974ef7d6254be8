//! `rightfit distill` and `rightfit students list | show | rm`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rightfit_config::Settings;
use rightfit_distill::export::{self, ExportFormat};
use rightfit_distill::job::{Distill, Outcome, find};
use rightfit_distill::manifest;
use rightfit_eval::prompt::Templates;
use rightfit_registry::ModelRegistry;
use rightfit_types::progress::Progress as _;

use super::common::{on_ctrl_c, open_store, output};
use super::output::{json, line, note};
use crate::args::{DistillArgs, ProjectArgs, StudentsCommand, TrainingFormat};
use crate::errors::user;
use rightfit_report::progress::Bars;

/// `rightfit distill`.
pub async fn run(settings: &Settings, args: DistillArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let store = open_store(&project, &args.project).await?;
    let chosen = project
        .students_chosen(&args.components, &args.students)
        .map_err(|name| {
            user(anyhow::anyhow!(
                "'{name}' names no student to train: see 'rightfit students list -c {}'",
                args.project.config.display()
            ))
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    on_ctrl_c(
        "\ninterrupted: saving a checkpoint (Ctrl-C again to abort at once)",
        move || flag.store(true, Ordering::Relaxed),
    );
    let registry = ModelRegistry::new(settings);
    let bars = Bars::new();
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
        let path = args.output.unwrap_or_default();
        let mut out = output(Some(path.as_path()).filter(|p| *p != Path::new("-")))?;
        let n = export::write(&mut out, &templates, &set, format).map_err(user)?;
        note(format!(
            "{n} rows ({} train, {} validation; {} refused as also evaluated, {} dropped) -> {}",
            set.train.len(),
            set.validation.len(),
            set.refused_overlap,
            set.dropped.len(),
            path.display()
        ));
        return Ok(());
    }
    let mut manifests = Vec::new();
    for (component, student) in &chosen {
        let (c, s) = find(&project, component, student).map_err(user)?;
        bars.note(&format!("{component}.{student}: {}", s.data.describe()));
        let outcome = job.student(c, s, args.fresh).await;
        bars.finish();
        let (m, verb) = match outcome.map_err(user)? {
            Outcome::Trained(m) => (m, "trained"),
            Outcome::UpToDate(m) => (
                m,
                "up to date (same data, settings and base; --fresh trains again)",
            ),
        };
        if !args.json {
            let text = rightfit_report::student_terminal(&m);
            line(format!(
                "{component}.{student}: {verb}\n{}",
                text.trim_end()
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
        StudentsCommand::List { project, json: j } => {
            let p = super::project::load(&project.config)?;
            let read = |path: &Path| manifest::read(path).map_err(|e| e.to_string());
            let listing = rightfit_report::students_listing(&p, read);
            if j {
                let manifests: Vec<_> = listing.iter().map(|s| &s.manifest).collect();
                return json(&serde_json::to_value(manifests)?);
            }
            line(rightfit_report::students_terminal(&listing).trim_end())
        }
        StudentsCommand::Show { project, student } => {
            let m = manifest::read(&artefact(&project, &student)?).map_err(user)?;
            line(rightfit_report::student_terminal(&m).trim_end())
        }
        StudentsCommand::Rm { project, student } => {
            let artefact = artefact(&project, &student)?;
            if !artefact.exists() {
                return Err(user(anyhow::anyhow!(
                    "{student} is not trained ({} does not exist)",
                    artefact.display()
                )));
            }
            std::fs::remove_dir_all(&artefact)
                .map_err(|e| user(anyhow::anyhow!("{}: {e}", artefact.display())))?;
            line(format!("removed {}", artefact.display()))
        }
    }
}

/// Where the student `COMPONENT.STUDENT` of the project is (or will be) kept.
fn artefact(project: &ProjectArgs, student: &str) -> anyhow::Result<PathBuf> {
    let p = super::project::load(&project.config)?;
    let (c, s) = student.split_once('.').ok_or_else(|| {
        user(anyhow::anyhow!(
            "'{student}': name a student as COMPONENT.STUDENT (see 'rightfit students list')"
        ))
    })?;
    Ok(find(&p, c, s).map_err(user)?.1.artefact.clone())
}
