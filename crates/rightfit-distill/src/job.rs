//! `rightfit distill` for one student: check what it stands on, build its training rows, train
//! it by its kind, and write its manifest. A student whose data, settings and base have not
//! changed since it was trained is left as it is.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rightfit_config::project::{Component, OutputContract, Project, Student, StudentKind};
use rightfit_eval::prompt::Templates;
use rightfit_types::{
    BaseModel as BaseInfo, STUDENT_FORMAT, StudentManifest, TrainingDataInfo, TrainingInfo,
};

use crate::classifier_student;
pub use crate::context::{Distill, peak_rss_bytes};
use crate::data::{Sources, TrainingSet, training_set};
use crate::error::{DistillError, Result, io_err};
use crate::export::{self, ExportFormat};
use crate::lora_student;
use crate::manifest;

/// How one student's distillation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Trained now.
    Trained(Box<StudentManifest>),
    /// Already trained on the same data, settings and base.
    UpToDate(Box<StudentManifest>),
}

impl Outcome {
    /// The manifest either way.
    pub fn manifest(&self) -> &StudentManifest {
        match self {
            Outcome::Trained(m) | Outcome::UpToDate(m) => m,
        }
    }
}

/// A component and one of its students, by name.
pub fn find<'p>(
    project: &'p Project,
    component: &str,
    student: &str,
) -> Result<(&'p Component, &'p Student)> {
    let c = project.component(component).map_err(DistillError::Data)?;
    let s = c.student(student).ok_or_else(|| {
        let names: Vec<&str> = c.students.iter().map(|s| s.name.as_str()).collect();
        DistillError::Data(format!(
            "component '{component}' has no student '{student}' (students: {})",
            if names.is_empty() {
                "none — add a [[components.NAME.students]] table".to_owned()
            } else {
                names.join(", ")
            }
        ))
    })?;
    Ok((c, s))
}

/// A student named as `COMPONENT.STUDENT`.
pub fn find_named<'p>(project: &'p Project, name: &str) -> Result<(&'p Component, &'p Student)> {
    let (c, s) = name.split_once('.').ok_or_else(|| {
        DistillError::Data(format!(
            "'{name}': name a student as COMPONENT.STUDENT (see 'rightfit students list')"
        ))
    })?;
    find(project, c, s)
}

/// Deletes the trained student `COMPONENT.STUDENT` (its directory); returns the directory.
pub fn remove(project: &Project, name: &str) -> Result<PathBuf> {
    let dir = find_named(project, name)?.1.artefact.clone();
    if !dir.exists() {
        return Err(DistillError::Data(format!(
            "{name} is not trained ({} does not exist)",
            dir.display()
        )));
    }
    std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    Ok(dir)
}

/// What [`Distill::export`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Lines written: the training rows, then the validation rows.
    pub rows: usize,
    pub train: usize,
    pub validation: usize,
    /// Rows refused because the evaluation data holds them too.
    pub refused_overlap: u64,
    /// Rows whose answer could not be used.
    pub dropped: usize,
}

impl Exported {
    /// One line for stderr: what was written, and to where.
    pub fn describe(&self, to: &Path) -> String {
        format!(
            "{} rows ({} train, {} validation; {} refused as also evaluated, {} dropped) -> {}",
            self.rows,
            self.train,
            self.validation,
            self.refused_overlap,
            self.dropped,
            to.display()
        )
    }
}

impl Distill<'_> {
    /// Writes the student's training rows to `out` in `format`, for a trainer elsewhere.
    pub async fn export(
        &self,
        c: &Component,
        s: &Student,
        format: ExportFormat,
        out: &mut dyn Write,
    ) -> Result<Exported> {
        let set = self.training_set(c, s).await?;
        let templates = Templates::new(c).map_err(DistillError::Data)?;
        let tool_call =
            matches!(c.output, OutputContract::ToolCall { .. }).then_some(c.name.as_str());
        let rows = export::write(out, &templates, &set, format, tool_call)?;
        Ok(Exported {
            rows,
            train: set.train.len(),
            validation: set.validation.len(),
            refused_overlap: set.refused_overlap,
            dropped: set.dropped.len(),
        })
    }

    /// The student's training rows (for export, or to train on).
    pub async fn training_set(&self, c: &Component, s: &Student) -> Result<TrainingSet> {
        let sources = Sources {
            project: self.project,
            component: c,
            providers: self.registry,
            store: self.store,
        };
        training_set(&sources, s, self.progress).await
    }

    /// Trains one student unless it is up to date (`fresh`: train it anyway).
    pub async fn student(&self, c: &Component, s: &Student, fresh: bool) -> Result<Outcome> {
        let templates = Templates::new(c).map_err(DistillError::Data)?;
        refuse_tool_calls(c, s)?;
        // What the student stands on, checked before any labelling.
        let base = match &s.kind {
            StudentKind::Lora { .. } => Base::Lora(Box::new(lora_student::check_base(
                self.project,
                s,
                self.registry,
            )?)),
            StudentKind::Classifier { embedder, .. } => Base::Classifier(
                classifier_student::check_embedder(self.project, embedder, self.registry).await?,
            ),
        };
        let started = Instant::now();
        let set = self.training_set(c, s).await?;
        let label_s = started.elapsed().as_secs_f64();
        let data_sha = set.sha256(&templates);
        let settings = serde_json::to_value(s).unwrap_or_default();
        let base_info = base.info();
        if !fresh
            && let Ok(m) = manifest::read(&s.artefact)
            && m.data.sha256 == data_sha
            && m.settings == settings
            && m.base == base_info
        {
            return Ok(Outcome::UpToDate(Box::new(m)));
        }
        let mut seconds = BTreeMap::new();
        if set.teacher.is_some() {
            seconds.insert("label".to_owned(), label_s);
        }
        let mut data = TrainingDataInfo {
            source: s.data.describe(),
            teacher: set.teacher.clone(),
            read: set.read,
            dropped: set.dropped.len() as u64,
            refused_overlap: set.refused_overlap,
            skipped: set.skipped,
            train: set.train.len() as u64,
            validation: set.validation.len() as u64,
            sha256: data_sha.clone(),
            labelling_cost_usd: set.labelling_cost_usd,
        };
        let (training, files) = match &base {
            Base::Lora(b) => {
                self.train_lora(
                    c,
                    s,
                    b,
                    &set,
                    &templates,
                    &data_sha,
                    &mut data,
                    &mut seconds,
                )
                .await?
            }
            Base::Classifier(e) => {
                classifier_student::train(
                    self,
                    c,
                    s,
                    e,
                    &set,
                    &templates,
                    &data_sha,
                    &mut data,
                    &mut seconds,
                )
                .await?
            }
        };
        let mut training = training;
        training.seconds = seconds;
        let m = StudentManifest {
            format: STUDENT_FORMAT,
            component: c.name.clone(),
            student: s.name.clone(),
            kind: s.kind.name().to_owned(),
            trained_at: rightfit_config::time::now_rfc3339(),
            rightfit: env!("CARGO_PKG_VERSION").to_owned(),
            base: base_info,
            data,
            settings,
            training,
            files,
        };
        manifest::write(&s.artefact, &m)?;
        Ok(Outcome::Trained(Box::new(m)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn train_lora(
        &self,
        c: &Component,
        s: &Student,
        base: &lora_student::LoraBase,
        set: &TrainingSet,
        templates: &Templates,
        data_sha: &str,
        data: &mut TrainingDataInfo,
        seconds: &mut BTreeMap<String, f64>,
    ) -> Result<(TrainingInfo, BTreeMap<String, String>)> {
        let StudentKind::Lora { max_tokens, .. } = &s.kind else {
            return Err(DistillError::Settings("not a LoRA student".into()));
        };
        let started = Instant::now();
        let (train, long_train) = lora_student::tokenise(
            self.registry,
            base,
            templates,
            &set.train,
            *max_tokens,
            self.progress,
        )
        .await?;
        let (validation, long_val) = lora_student::tokenise(
            self.registry,
            base,
            templates,
            &set.validation,
            *max_tokens,
            self.progress,
        )
        .await?;
        seconds.insert("tokenize".to_owned(), started.elapsed().as_secs_f64());
        data.skipped += long_train + long_val;
        data.train = train.len() as u64;
        data.validation = validation.len() as u64;
        if train.is_empty() || validation.is_empty() {
            return Err(DistillError::Data(format!(
                "components.{}.students.{}: every row is longer than max_tokens = {max_tokens} on one side of the split: raise max_tokens",
                c.name, s.name
            )));
        }
        let key = lora_student::resume_key(data_sha, base, s, c);
        let outcome = tokio::task::block_in_place(|| {
            lora_student::train(
                &s.artefact,
                base,
                s,
                &train,
                &validation,
                &key,
                self.progress,
                self.stop,
            )
        })?;
        seconds.insert("train".to_owned(), outcome.seconds);
        let adapter = s.artefact.join(rightfit_config::project::ADAPTER_FILE);
        let mut files = BTreeMap::new();
        files.insert(
            rightfit_config::project::ADAPTER_FILE.to_owned(),
            manifest::sha256_file(&adapter)?,
        );
        let mut validation_figures = BTreeMap::new();
        validation_figures.insert("loss".to_owned(), outcome.validation_loss);
        if outcome.base_loss.is_finite() {
            validation_figures.insert("base_loss".to_owned(), outcome.base_loss);
        }
        validation_figures.insert("parameters".to_owned(), outcome.parameters as f64);
        Ok((
            TrainingInfo {
                epochs: outcome.epochs,
                best_epoch: outcome.best_epoch,
                validation: validation_figures,
                seconds: BTreeMap::new(),
                examples_per_s: outcome.examples_per_s,
                peak_rss_bytes: peak_rss_bytes(),
                resumed: outcome.resumed,
            },
            files,
        ))
    }
}

/// What a student stands on.
enum Base {
    Lora(Box<lora_student::LoraBase>),
    Classifier(classifier_student::Embedder),
}

impl Base {
    fn info(&self) -> BaseInfo {
        match self {
            Base::Lora(b) => BaseInfo {
                model: b.model.clone(),
                source: b.path.display().to_string(),
                sha256: Some(b.sha256.clone()),
            },
            Base::Classifier(e) => e.info.clone(),
        }
    }
}

/// Refuses a student that cannot learn the component's answers: neither kind learns tool calls
/// (a classifier answers one label; a LoRA student's rows carry no functions to call).
fn refuse_tool_calls(c: &Component, s: &Student) -> Result<()> {
    if !matches!(c.output, OutputContract::ToolCall { .. }) {
        return Ok(());
    }
    Err(DistillError::Settings(format!(
        "components.{}.students.{}: a {} student cannot learn tool calls — export the rows with '--export openai' (functions and calls included) and fine-tune elsewhere",
        c.name,
        s.name,
        s.kind.name()
    )))
}

#[cfg(test)]
mod tests {
    use rightfit_config::project::Project;

    use super::refuse_tool_calls;

    #[test]
    fn a_student_of_a_tool_call_component_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("d.jsonl"), "").expect("write");
        let text = r#"
[models.m]
provider = "local"
model = "x.gguf"
[components.weather]
prompt = "{{ input }}"
dataset = { path = "d.jsonl", id = "id" }
reference = "reference"
output = { type = "tool_call", tools = "tools", messages = "messages" }
[[components.weather.candidates]]
model = "m"
[[components.weather.students]]
name = "small"
type = "lora"
base = "m"
data = { from = "dataset", dataset = { path = "d.jsonl" } }
"#;
        let p = Project::parse(&dir.path().join("rightfit.toml"), text).expect("valid");
        let c = &p.components["weather"];
        let e = refuse_tool_calls(c, &c.students[0]).expect_err("refused");
        let text = e.to_string();
        assert!(
            text.contains("components.weather.students.small")
                && text.contains("lora student cannot learn tool calls"),
            "{text}"
        );
    }
}
