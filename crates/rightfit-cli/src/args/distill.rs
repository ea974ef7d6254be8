//! `rightfit distill` and `rightfit students`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::common::ProjectArgs;

#[derive(Debug, Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Components whose students to train (default: every component with students).
    pub components: Vec<String>,
    /// Only these students (by name; repeatable).
    #[arg(long = "student", value_name = "NAME")]
    pub students: Vec<String>,
    /// Train again even when the data, settings and base are unchanged (a checkpoint of an
    /// interrupted run of the same data and settings is still resumed).
    #[arg(long)]
    pub fresh: bool,
    /// Write the training rows in this format instead of training (one component and
    /// student), for training elsewhere.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "output")]
    pub export: Option<TrainingFormat>,
    /// Where --export writes ('-': stdout).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the manifests as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Training-set file formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TrainingFormat {
    /// OpenAI fine-tuning chat JSONL: {"messages": [...]} per line.
    Openai,
    /// {"prompt": ..., "completion": ...} per line.
    PromptCompletion,
}

#[derive(Debug, Subcommand)]
pub enum StudentsCommand {
    /// The project's students: trained or not, on what, with which figures.
    List {
        #[command(flatten)]
        project: ProjectArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One student's manifest: provenance (data hash, teacher, base hash), settings, figures.
    Show {
        #[command(flatten)]
        project: ProjectArgs,
        /// COMPONENT.STUDENT (as candidates name its model).
        student: String,
    },
    /// Delete a student's trained artefact (its configuration stays).
    Rm {
        #[command(flatten)]
        project: ProjectArgs,
        /// COMPONENT.STUDENT.
        student: String,
    },
}
