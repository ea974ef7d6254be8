//! What every student's training is handed ([`Distill`]) and what both kinds report: a leaf
//! that `job` and the kinds (`lora_student`, `classifier_student`) import, so they need not
//! import each other.

use std::sync::atomic::AtomicBool;

use rightfit_config::project::Project;
use rightfit_registry::ModelRegistry;
use rightfit_store::Store;

use rightfit_types::progress::Progress;

/// What a distillation needs.
pub struct Distill<'a> {
    /// The project.
    pub project: &'a Project,
    /// Builds teachers, embedders and bases.
    pub registry: &'a ModelRegistry,
    /// Response cache (teacher answers) and traffic.
    pub store: &'a dyn Store,
    /// Hears about progress.
    pub progress: &'a dyn Progress,
    /// Turns true to stop (Ctrl-C): training saves a checkpoint and returns.
    pub stop: &'a AtomicBool,
}

impl std::fmt::Debug for Distill<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distill")
            .field("project", &self.project.name)
            .finish_non_exhaustive()
    }
}

/// Peak resident memory of this process, Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let p = rightfit_llama::engine::ProcessMemory::now().peak_rss_bytes;
    (p > 0).then_some(p)
}
