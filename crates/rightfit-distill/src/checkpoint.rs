//! Checkpoints: the LoRA tensors, AdamW's moments, the step and the random generator's state in
//! one GGUF file (written atomically), so that an interrupted run resumes exactly.
//!
//! The LoRA tensors use the adapter's names (`blk.3.attn_q.weight.lora_a`); the moments add
//! `.adam_m` / `.adam_v`. The metadata records the LoRA settings and the base model's shape,
//! and loading refuses a checkpoint made with other settings or for another base.

use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use candle_core::{Device, Var};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::adapter::write_gguf;
use crate::base::{BaseModel, open_gguf, string_meta};
use crate::error::{DistillError, Result};
use crate::forward::Model;
use crate::lora::{Layers, LoraConfig, LoraWeights};
use crate::optim::OptimConfig;
use crate::train::Trainer;

const KIND: &str = "rightfit-lora-checkpoint";

fn settings_string(lora: &LoraConfig, model: &BaseModel) -> String {
    let hp = &model.hparams;
    let targets: Vec<&str> = lora.targets.iter().map(|p| p.short()).collect();
    let layers = match lora.layers {
        Layers::All => "all".to_owned(),
        Layers::Top(n) => format!("top{n}"),
    };
    format!(
        "arch={} layers={} width={} ff={} heads={}/{} vocab={} | rank={} alpha={} targets={} on={}",
        hp.arch.as_str(),
        hp.n_layer,
        hp.n_embd,
        hp.n_ff,
        hp.n_head,
        hp.n_head_kv,
        hp.vocab,
        lora.rank,
        lora.alpha,
        targets.join(","),
        layers
    )
}

impl Trainer {
    /// Saves the run's state to `path` (temp file, then rename: a crash leaves the old one).
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let (seed, word_pos, stream) = (
            self.rng.get_seed(),
            self.rng.get_word_pos(),
            self.rng.get_stream(),
        );
        let seed_hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        let md = vec![
            ("general.type".to_owned(), Value::String(KIND.into())),
            (
                "rightfit.settings".to_owned(),
                Value::String(settings_string(&self.model.lora.config, &self.model.base)),
            ),
            (
                "rightfit.step".to_owned(),
                Value::U64(self.optim.step as u64),
            ),
            ("rightfit.rng.seed".to_owned(), Value::String(seed_hex)),
            (
                "rightfit.rng.word_pos".to_owned(),
                Value::String(word_pos.to_string()),
            ),
            (
                "rightfit.rng.stream".to_owned(),
                Value::String(stream.to_string()),
            ),
        ];
        let mut tensors = Vec::new();
        for (i, p) in self.model.lora.pairs.iter().enumerate() {
            let base = p.base_name();
            for (j, (suffix, var)) in [("lora_a", &p.a), ("lora_b", &p.b)].into_iter().enumerate() {
                let mo = &self.optim.moments[2 * i + j];
                tensors.push((format!("{base}.{suffix}"), var.as_tensor().clone()));
                tensors.push((format!("{base}.{suffix}.adam_m"), mo.m.clone()));
                tensors.push((format!("{base}.{suffix}.adam_v"), mo.v.clone()));
            }
        }
        write_gguf(path, &md, &tensors)
    }

    /// Restores a run saved by [`Trainer::save_checkpoint`] onto `base`, with the same LoRA
    /// settings; `optim` may change the schedule (e.g. more total steps).
    pub fn resume(
        base: BaseModel,
        lora: &LoraConfig,
        optim: OptimConfig,
        path: &Path,
    ) -> Result<Trainer> {
        let bad = |detail: String| DistillError::Checkpoint {
            path: path.to_owned(),
            detail,
        };
        let (content, mut reader) = open_gguf(path)?;
        if string_meta(&content, "general.type").as_deref() != Some(KIND) {
            return Err(bad("not a rightfit LoRA checkpoint".into()));
        }
        let want = settings_string(lora, &base);
        let have = string_meta(&content, "rightfit.settings").unwrap_or_default();
        if have != want {
            return Err(bad(format!(
                "made with other settings or another base:\n  checkpoint: {have}\n  this run:   {want}"
            )));
        }
        let step = match content.metadata.get("rightfit.step") {
            Some(Value::U64(s)) => usize::try_from(*s).map_err(|_| bad("step".into()))?,
            _ => return Err(bad("no rightfit.step".into())),
        };
        let seed_hex = string_meta(&content, "rightfit.rng.seed").unwrap_or_default();
        let mut seed = [0u8; 32];
        if seed_hex.len() != 64 {
            return Err(bad("rightfit.rng.seed is not 32 hex bytes".into()));
        }
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&seed_hex[2 * i..2 * i + 2], 16)
                .map_err(|_| bad("rightfit.rng.seed is not hex".into()))?;
        }
        let parse_u128 = |key: &str| -> Result<u128> {
            string_meta(&content, key)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("no valid {key}")))
        };
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(u64::try_from(parse_u128("rightfit.rng.stream")?).unwrap_or(0));
        rng.set_word_pos(parse_u128("rightfit.rng.word_pos")?);

        // Same shapes and order as a fresh run; then overwrite every tensor from the file.
        let mut init_rng = ChaCha8Rng::seed_from_u64(0);
        let weights = LoraWeights::init(lora, &base.hparams, &mut init_rng)?;
        let mut read = |name: &str, like: &Var| -> Result<candle_core::Tensor> {
            let t = content
                .tensor(&mut reader, name, &Device::Cpu)
                .and_then(|q| q.dequantize(&Device::Cpu))
                .map_err(|e| bad(format!("tensor {name}: {e}")))?;
            if t.dims() != like.dims() {
                return Err(bad(format!(
                    "tensor {name} is {:?}, expected {:?}",
                    t.dims(),
                    like.dims()
                )));
            }
            Ok(t)
        };
        let mut moments = Vec::new();
        for p in &weights.pairs {
            let base_name = p.base_name();
            for (suffix, var) in [("lora_a", &p.a), ("lora_b", &p.b)] {
                let name = format!("{base_name}.{suffix}");
                var.set(&read(&name, var)?)?;
                moments.push((
                    read(&format!("{name}.adam_m"), var)?,
                    read(&format!("{name}.adam_v"), var)?,
                ));
            }
        }
        let mut trainer = Trainer::from_parts(Model::new(base, weights)?, optim, rng)?;
        for (mo, (m, v)) in trainer.optim.moments.iter_mut().zip(moments) {
            mo.m = m;
            mo.v = v;
        }
        trainer.optim.step = step;
        Ok(trainer)
    }
}
