//! `rightfit distill` and `rightfit students list | show | rm`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rightfit_config::Settings;
use rightfit_distill::export::ExportFormat;
use rightfit_distill::job::{Distill, Outcome, find, find_named, remove};
use rightfit_distill::manifest;
use rightfit_registry::ModelRegistry;
use rightfit_types::progress::Progress as _;

use super::common::{on_ctrl_c, open_store, output};
use super::output::{json, line, note};
use crate::args::{DistillArgs, StudentsCommand, TrainingFormat};
use crate::errors::user;
use rightfit_report::progress::Bars;

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
        store: &*store,
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
        let format = match format {
            TrainingFormat::Openai => ExportFormat::OpenAi,
            TrainingFormat::PromptCompletion => ExportFormat::PromptCompletion,
        };
        let path = args.output.unwrap_or_default();
        let mut out = output(Some(path.as_path()).filter(|p| *p != Path::new("-")))?;
        let exported = job.export(c, s, format, &mut out).await.map_err(user)?;
        note(exported.describe(&path));
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
            let p = super::project::load(&project.config)?;
            let (_, s) = find_named(&p, &student).map_err(user)?;
            let m = manifest::read(&s.artefact).map_err(user)?;
            line(rightfit_report::student_terminal(&m).trim_end())
        }
        StudentsCommand::Rm { project, student } => {
            let p = super::project::load(&project.config)?;
            let removed = remove(&p, &student).map_err(user)?;
            line(format!("removed {}", removed.display()))
        }
    }
}
