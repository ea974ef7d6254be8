//! The commented starter project `rightfit init` writes.

use std::path::{Path, PathBuf};

/// Why the starter project was not written.
#[derive(Debug, thiserror::Error)]
pub enum StarterError {
    /// A project file is there already.
    #[error("{} already exists — pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    /// A directory or file could not be written.
    #[error("{what} {}", path.display())]
    Write {
        /// `creating` or `writing`.
        what: &'static str,
        /// The directory or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Writes [`STARTER`] as `dir/rightfit.toml` (refused when it exists, unless `force`) and
/// [`STARTER_DATA`] as `dir/data/tickets.jsonl` (kept when it exists); returns both paths.
pub fn write_starter(dir: &Path, force: bool) -> Result<(PathBuf, PathBuf), StarterError> {
    let file = dir.join("rightfit.toml");
    if file.exists() && !force {
        return Err(StarterError::Exists(file));
    }
    let failed = |what, path: &Path| {
        let path = path.to_owned();
        move |source| StarterError::Write { what, path, source }
    };
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(failed("creating", &data))?;
    std::fs::write(&file, STARTER).map_err(failed("writing", &file))?;
    let tickets = data.join("tickets.jsonl");
    if !tickets.exists() {
        std::fs::write(&tickets, STARTER_DATA).map_err(failed("writing", &tickets))?;
    }
    Ok((file, tickets))
}

/// A starter `rightfit.toml`: one local model, one component, two candidates. It reads
/// `data/tickets.jsonl`, which `rightfit init` writes beside it.
pub const STARTER: &str = r#"# rightfit.toml — what to evaluate, on which data, with which models.
# Reference: docs/config.md. Check it with `rightfit config check`; run it with `rightfit eval`.

[project]
name = "my-app"
# store = ".rightfit/runs.db"   # where runs are kept (relative to this file)
# seed = 42                     # sampling, few-shot selection and bootstrap
# concurrency = 4               # requests in flight per hosted model

# ---------------------------------------------------------------------------------------------
# Models: a name, a provider, and a price in US dollars per million tokens.
# ---------------------------------------------------------------------------------------------

[models.smollm2]
provider = "local"              # embedded llama.cpp; `rightfit models list` shows the catalogue
model = "smollm2-135m"          # a catalogue name or a path to a .gguf file
# context_size = 8192
# parallel = 8                  # sequences decoded together

# [models.gpt-4o-mini]
# provider = "openai"
# model = "gpt-4o-mini"
# api_key = "env:OPENAI_API_KEY"  # secrets are always references to environment variables
# price = { input = 0.15, output = 0.60 }

# [models.vllm]
# provider = "openai-compatible"
# base_url = "http://localhost:8000/v1"
# model = "Qwen/Qwen2.5-1.5B-Instruct"

# ---------------------------------------------------------------------------------------------
# Components: one job of your application, its data, its answer contract, its candidates.
# ---------------------------------------------------------------------------------------------

[components.triage]
description = "Route a support ticket to a team"
system = "You route customer support tickets. Answer with one word: billing, technical or account."
# The prompt is a Jinja template over the dataset row's fields.
prompt = "Ticket: {{ text }}\nTeam:"
dataset = { path = "data/tickets.jsonl", id = "id" }   # jsonl, csv, tsv, json or squad
reference = "team"                                     # the field holding the right answer
output = { type = "label", labels = ["billing", "technical", "account"] }
metrics = ["accuracy", "macro_f1"]                     # the first is the primary metric
max_tokens = 8
# limit = 200                   # evaluate a seeded sample of this many rows
# stratify = "team"             # keep label proportions when sampling

# Few-shot examples come from the dataset (held out from evaluation) or are written inline.
few_shot = { k = 3, stratify = true }

[[components.triage.candidates]]
model = "smollm2"
strategy = "zero-shot"

[[components.triage.candidates]]
model = "smollm2"
strategy = "few-shot"
k = 3

[[components.triage.candidates]]
model = "smollm2"
strategy = "loglikelihood"      # pick the most likely label (local models only)
"#;

/// The small dataset the starter project reads.
pub const STARTER_DATA: &str = r#"{"id": "t1", "text": "I was charged twice for my subscription this month.", "team": "billing"}
{"id": "t2", "text": "The app crashes every time I open the settings page.", "team": "technical"}
{"id": "t3", "text": "How do I change the email address on my profile?", "team": "account"}
{"id": "t4", "text": "My invoice shows the wrong VAT number.", "team": "billing"}
{"id": "t5", "text": "I can't log in after resetting my password.", "team": "account"}
{"id": "t6", "text": "Uploads fail with error 500 since this morning.", "team": "technical"}
{"id": "t7", "text": "Please refund the order I cancelled last week.", "team": "billing"}
{"id": "t8", "text": "The export button does nothing in Firefox.", "team": "technical"}
{"id": "t9", "text": "I want to delete my account and all my data.", "team": "account"}
{"id": "t10", "text": "Why was my card declined when I upgraded my plan?", "team": "billing"}
{"id": "t11", "text": "Notifications stopped arriving on my phone.", "team": "technical"}
{"id": "t12", "text": "Can I add a second user to my account?", "team": "account"}
{"id": "t13", "text": "I need a copy of last year's receipts for accounting.", "team": "billing"}
{"id": "t14", "text": "The page loads forever and then shows a blank screen.", "team": "technical"}
{"id": "t15", "text": "Someone else seems to have access to my profile.", "team": "account"}
{"id": "t16", "text": "You billed me after I cancelled my trial.", "team": "billing"}
{"id": "t17", "text": "Search returns no results even for exact titles.", "team": "technical"}
{"id": "t18", "text": "How do I turn on two-factor authentication?", "team": "account"}
"#;
