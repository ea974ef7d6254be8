//! `rightfit score`: score predictions a team already has (`rightfit_eval::score_predictions`).

use rightfit_eval::score_predictions::{OfflineOptions, ScoreFiles, score_files};

use super::output::{json, line, note};
use crate::args::{ReportFormat, ScoreArgs};
use crate::errors::user;

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let files = ScoreFiles {
        predictions: &args.predictions,
        references: &args.references,
        id_field: &args.id_field,
        prediction_field: &args.prediction_field,
        reference_field: &args.reference_field,
        schema: args.schema.as_deref(),
    };
    let options = OfflineOptions {
        labels: args.labels.clone(),
        schema: None,
        slots: args.slots.clone(),
        seed: 42,
    };
    let scored = score_files(&args.metric, &files, options).map_err(user)?;
    for p in scored.problems.iter().take(20) {
        note(format!("skipped: {p}"));
    }
    if args.format == ReportFormat::Json {
        let (result, missing) = (&scored.result, &scored.missing);
        return json(&rightfit_report::score_json(
            result,
            missing,
            &scored.problems,
        ));
    }
    let text = rightfit_report::score_terminal(
        &scored.result,
        scored.missing.len(),
        scored.problems.len(),
    );
    line(text.trim_end())
}
