//! The self-contained HTML report: charts (SVG drawn with `plotters`), the recommendation, the
//! aspects table, and a filterable per-example table. One file, no network.

use rightfit_decide::Recommendation;
use rightfit_types::ExampleRecord;

use crate::RunReport;

/// One component's part of the HTML report.
#[derive(Debug, Clone)]
pub struct HtmlSection {
    /// The run's summaries and comparisons.
    pub report: RunReport,
    /// Every example record of the run (all candidates).
    pub records: Vec<ExampleRecord>,
    /// The recommendation for the component, when one was made.
    pub recommendation: Option<Recommendation>,
}

/// The whole report as one HTML document. `title` heads the page; `generated` says when (shown
/// as given).
pub fn html(title: &str, generated: &str, sections: &[HtmlSection]) -> String {
    let _ = (title, generated, sections);
    todo!("html report")
}
