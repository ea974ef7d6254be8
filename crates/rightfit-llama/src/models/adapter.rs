//! LoRA adapters trained elsewhere, added as models: checked against their base before they
//! are recorded (as llama.cpp's loader would check them), then resolved to the base with the
//! adapter applied.

use std::path::Path;

use super::{Manifest, ModelStore, ModelStoreError, ResolvedModel, read_manifest};
use crate::catalog;
use crate::engine::check_adapter;
use crate::gguf;
use rightfit_types::progress::Progress;

impl ModelStore {
    /// Registers a GGUF LoRA adapter as a model: `base` (a catalogue or added model name) with
    /// the adapter applied. Refused before anything is written when the file is not an adapter,
    /// the base is missing or is itself an adapter, or the adapter does not fit the base
    /// (another architecture, a tensor the base lacks, other shapes).
    pub fn add_adapter(
        &self,
        path: &Path,
        base: &str,
        name: Option<&str>,
        copy: bool,
        progress: &dyn Progress,
    ) -> Result<Manifest, ModelStoreError> {
        let header = gguf::read_header(path)?;
        if header.get_str("general.type") != Some("adapter") {
            return Err(ModelStoreError::Adapter(format!(
                "{}: not a LoRA adapter (general.type is not 'adapter'); leave out --base to add a model",
                path.display()
            )));
        }
        let on = self.resolve(base)?;
        if on.adapter.is_some() {
            return Err(ModelStoreError::Adapter(format!(
                "'{base}' is itself an adapter; give the model it applies to as --base"
            )));
        }
        if on.path.is_dir() {
            return Err(ModelStoreError::Adapter(format!(
                "'{base}' is not a GGUF model; a LoRA adapter needs one as its base"
            )));
        }
        let base_header = gguf::read_header(&on.path)?;
        check_adapter(path, &base_header)
            .map_err(|e| ModelStoreError::Adapter(format!("does not fit '{base}': {e}")))?;
        self.register(path, name, copy, Some(base.to_owned()), progress)
    }

    /// The base an added adapter named `name` applies to, resolved.
    pub(super) fn adapter_base(
        &self,
        name: &str,
        base: &str,
    ) -> Result<ResolvedModel, ModelStoreError> {
        // Checked before resolving, so that hand-edited manifests naming each other as bases
        // are an error and not an endless recursion.
        let manifest = self.manifest_path(base);
        if catalog::find(base).is_none()
            && manifest.exists()
            && read_manifest(&manifest)?.base.is_some()
        {
            return Err(ModelStoreError::Adapter(format!(
                "adapter '{name}' applies to '{base}', which is itself an adapter"
            )));
        }
        self.resolve(base).map_err(|e| {
            ModelStoreError::Adapter(format!("adapter '{name}' applies to '{base}': {e}"))
        })
    }
}
