//! The project file's side of a decision: its constraints tables as [`Constraints`], its models
//! as [`Deployment`]s, and the recommendation for a stored run under them. Still pure: a local
//! model's shape and the saved calibrations are read by the caller and passed in.

use rightfit_config::project::{ConstraintsConfig, ModelConfig, Project, ProviderConfig};
use rightfit_types::RunReport;
use rightfit_types::device::{CalibrationRecord, ModelShape};

use crate::candidate_facts::{CandidateFacts, Deployment};
use crate::constraints::{Budget, Constraints, Objective, QualityFloor};
use crate::device::{self, Calibration};
use crate::recommend::{Recommendation, recommend};

/// Why the project cannot judge a run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProjectError {
    /// A constraint out of its range.
    #[error("constraint {key}: {message}")]
    Constraint {
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A device id the catalogue does not have.
    #[error("unknown device '{id}': the catalogue has {known} (see 'rightfit devices')")]
    UnknownDevice {
        id: String,
        /// The catalogue's ids, comma-separated.
        known: String,
    },
    /// The run's component is gone from the project.
    #[error("run {run} is of component '{component}', which {file} no longer has")]
    UnknownComponent {
        run: String,
        /// Its component.
        component: String,
        /// The project file.
        file: String,
    },
    /// A candidate's model is gone from the project.
    #[error(
        "run {run}: candidate '{candidate}' uses model '{model}', which {file} no longer defines"
    )]
    UnknownModel {
        run: String,
        candidate: String,
        /// Its model.
        model: String,
        /// The project file.
        file: String,
    },
}

/// Checks every component's constraints with `extra` laid over them, so that a bad flag is
/// refused before anything is read.
pub fn check_constraints(project: &Project, extra: &ConstraintsConfig) -> Result<(), ProjectError> {
    for c in project.components.values() {
        constraints_from(&c.constraints.overridden_by(extra))?;
    }
    Ok(())
}

/// Validated constraints, with the device id looked up in the catalogue.
pub fn constraints_from(c: &ConstraintsConfig) -> Result<Constraints, ProjectError> {
    c.check()
        .map_err(|(key, message)| ProjectError::Constraint { key, message })?;
    let device = match &c.device {
        None => None,
        Some(id) => Some(device::find(id).ok_or_else(|| {
            let ids: Vec<String> = device::catalogue().into_iter().map(|d| d.id).collect();
            ProjectError::UnknownDevice {
                id: id.clone(),
                known: ids.join(", "),
            }
        })?),
    };
    let budget = match (
        c.max_cost_per_1k_usd,
        c.max_monthly_usd,
        c.requests_per_month,
    ) {
        (Some(usd), _, _) => Some(Budget::Per1k { usd }),
        (None, Some(usd), Some(requests)) => Some(Budget::Monthly { usd, requests }),
        _ => None,
    };
    let objective = match c.prefer.as_deref() {
        Some("quality") => Some(Objective::Quality),
        Some("cost") => Some(Objective::Cost),
        Some("latency") => Some(Objective::Latency),
        _ => None,
    };
    Ok(Constraints {
        quality_floor: c
            .min_quality
            .map(QualityFloor::Absolute)
            .or(c.min_quality_of_best.map(QualityFloor::Relative)),
        max_p95_latency_ms: c.max_p95_latency_ms,
        max_p95_ttft_ms: c.max_p95_ttft_ms,
        budget,
        memory_cap_bytes: c.max_memory_gb.map(|gb| (gb * 1e9) as u64),
        device,
        offline: c.offline.unwrap_or(false),
        objective,
        context_tokens: c.context_tokens,
    })
}

/// Where a local model's file is and its shape, by the `model` the config names (`None` when
/// it is not on this machine or its header cannot be read).
pub type LocateModel<'a> = &'a dyn Fn(&str) -> Option<(String, ModelShape)>;

/// How a model of the project is deployed (local models: with the shape of their file, when it
/// is on this machine, and the calibration measured with it or its quantisation).
pub fn deployment(
    model: &ModelConfig,
    calibrations: &[CalibrationRecord],
    locate: LocateModel,
) -> Deployment {
    match &model.provider {
        ProviderConfig::Local {
            model: file,
            context_size,
            parallel,
            ..
        } => {
            let located = locate(file);
            let calibration = located.as_ref().and_then(|(path, shape)| {
                device::choose_calibration(calibrations, path, &shape.quantization)
                    .map(|r| r.calibration.clone())
            });
            Deployment::Local {
                shape: located.map(|(_, shape)| shape),
                context_size: *context_size,
                parallel: parallel.unwrap_or(1),
                cost_per_hour: model.cost_per_hour,
                calibration,
            }
        }
        other => Deployment::Hosted {
            provider: other.kind().to_owned(),
        },
    }
}

/// The recommendation for a run under its component's constraints overridden by `extra`.
pub fn recommend_run(
    project: &Project,
    r: &RunReport,
    extra: &ConstraintsConfig,
    calibrations: &[CalibrationRecord],
    locate: LocateModel,
) -> Result<Recommendation, ProjectError> {
    let file = || project.file.display().to_string();
    let component =
        project
            .components
            .get(&r.run.component)
            .ok_or_else(|| ProjectError::UnknownComponent {
                run: r.run.id.clone(),
                component: r.run.component.clone(),
                file: file(),
            })?;
    let constraints = constraints_from(&component.constraints.overridden_by(extra))?;
    let mut facts = Vec::new();
    for s in &r.candidates {
        let model = project
            .models
            .get(&s.model)
            .ok_or_else(|| ProjectError::UnknownModel {
                run: r.run.id.clone(),
                candidate: s.candidate.clone(),
                model: s.model.clone(),
                file: file(),
            })?;
        facts.push(CandidateFacts {
            summary: s.clone(),
            deployment: deployment(model, calibrations, locate),
        });
    }
    Ok(recommend(
        &r.run.component,
        &r.primary_metric,
        &facts,
        &r.comparisons,
        &constraints,
        &Calibration::default(),
    ))
}
