//! LoRA adapters as llama.cpp loads them (`llama_adapter_lora_init_impl` in the vendored
//! `src/llama-adapter.cpp`), and the checks that an adapter fits a base model.
//!
//! The layout: metadata `general.type = "adapter"`, `general.architecture` = the base's,
//! `adapter.type = "lora"`, `adapter.lora.alpha` (f32); for each updated base tensor `W` with
//! ggml dims `ne = [in, out]`, two F32 tensors `W.lora_a` with `ne = [in, r]` and `W.lora_b` with
//! `ne = [r, out]` (candle, outermost first: `[r, in]` and `[out, r]`). llama.cpp computes
//! `W·x + scale·(alpha/r)·B·(A·x)` with `r = ne[0]` of `lora_b`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufWriter, Write};
use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor, Var};

use crate::base::{Arch, BaseHeader, f32_meta, open_gguf, string_meta};
use crate::error::{DistillError, Result, io_err};
use crate::lora::{Layers, LoraConfig, LoraPair, LoraWeights, Projection};

/// A GGUF file's metadata value, as written.
pub type MetaValue = Value;

/// Writes `metadata` and F32 `tensors` as a GGUF file, atomically (temp file, then rename).
pub(crate) fn write_gguf(
    path: &Path,
    metadata: &[(String, Value)],
    tensors: &[(String, Tensor)],
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let q: Vec<(String, QTensor)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), QTensor::quantize(t, GgmlDType::F32)?)))
        .collect::<Result<_>>()?;
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = q.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io_err(path, e))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        gguf_file::write(&mut w, &md, &ts).map_err(|e| DistillError::Gguf {
            path: path.to_owned(),
            detail: format!("writing: {e}"),
        })?;
        w.flush().map_err(|e| io_err(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| io_err(path, e))?;
    tmp.persist(path).map_err(|e| io_err(path, e.error))?;
    Ok(())
}

/// The tensors of an adapter, named as llama.cpp expects.
pub fn adapter_tensors(lora: &LoraWeights) -> Vec<(String, Tensor)> {
    lora.pairs
        .iter()
        .flat_map(|p| {
            let base = p.base_name();
            [
                (format!("{base}.lora_a"), p.a.as_tensor().clone()),
                (format!("{base}.lora_b"), p.b.as_tensor().clone()),
            ]
        })
        .collect()
}

/// Writes `lora` as a llama.cpp LoRA adapter for a base of architecture `arch`. `extra` adds
/// string metadata (provenance: data hash, base file, settings), which llama.cpp ignores.
pub fn write_adapter(
    path: &Path,
    lora: &LoraWeights,
    arch: Arch,
    extra: &[(String, String)],
) -> Result<()> {
    let mut md = vec![
        ("general.type".to_owned(), Value::String("adapter".into())),
        (
            "general.architecture".to_owned(),
            Value::String(arch.as_str().into()),
        ),
        ("adapter.type".to_owned(), Value::String("lora".into())),
        (
            "adapter.lora.alpha".to_owned(),
            Value::F32(lora.config.alpha),
        ),
    ];
    for (k, v) in extra {
        md.push((k.clone(), Value::String(v.clone())));
    }
    write_gguf(path, &md, &adapter_tensors(lora))
}

/// One updated base tensor in an adapter file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterPair {
    /// The base tensor (`blk.3.attn_q.weight`).
    pub base_name: String,
    /// `lora_a` dims, outermost first (`[r, in]`).
    pub a_dims: Vec<usize>,
    /// `lora_b` dims (`[out, r]`).
    pub b_dims: Vec<usize>,
}

/// What an adapter file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterInfo {
    /// `general.architecture`.
    pub architecture: String,
    /// `adapter.lora.alpha` (0 when absent: llama.cpp then applies no alpha/r scaling).
    pub alpha: f32,
    /// Pairs, sorted by base tensor name.
    pub pairs: Vec<AdapterPair>,
}

/// Reads an adapter's header and checks it is a complete LoRA adapter, as llama.cpp would.
pub fn read_adapter(path: &Path) -> Result<AdapterInfo> {
    let (content, _) = open_gguf(path)?;
    let bad = |detail: String| DistillError::Adapter {
        path: path.to_owned(),
        detail,
    };
    let general = string_meta(&content, "general.type").unwrap_or_default();
    if general != "adapter" {
        return Err(bad(format!(
            "general.type is '{general}', not 'adapter': this is not an adapter file"
        )));
    }
    let kind = string_meta(&content, "adapter.type").unwrap_or_default();
    if kind != "lora" {
        return Err(bad(format!("adapter.type is '{kind}', not 'lora'")));
    }
    let architecture = string_meta(&content, "general.architecture")
        .ok_or_else(|| bad("no general.architecture".into()))?;
    let alpha = f32_meta(&content, "adapter.lora.alpha").unwrap_or(0.0);
    let mut a: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut b: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (name, info) in &content.tensor_infos {
        let dims = info.shape.dims().to_vec();
        if let Some(base) = name.strip_suffix(".lora_a") {
            a.insert(base.to_owned(), dims);
        } else if let Some(base) = name.strip_suffix(".lora_b") {
            b.insert(base.to_owned(), dims);
        } else if !name.ends_with("_norm.weight") {
            return Err(bad(format!(
                "tensor '{name}' is neither .lora_a nor .lora_b (llama.cpp refuses it)"
            )));
        }
    }
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut pairs = Vec::new();
    for name in names {
        match (a.get(name), b.get(name)) {
            (Some(ad), Some(bd)) => pairs.push(AdapterPair {
                base_name: name.clone(),
                a_dims: ad.clone(),
                b_dims: bd.clone(),
            }),
            _ => {
                return Err(bad(format!("'{name}' has only one of lora_a and lora_b")));
            }
        }
    }
    if pairs.is_empty() {
        return Err(bad("no LoRA tensors".into()));
    }
    Ok(AdapterInfo {
        architecture,
        alpha,
        pairs,
    })
}

impl AdapterInfo {
    /// Checks that the adapter fits `base` (read from `base_path`): the same architecture, every
    /// updated tensor present in the base with matching shapes, A and B agreeing on the rank.
    pub fn check_against(&self, path: &Path, base: &BaseHeader, base_path: &Path) -> Result<()> {
        let bad = |detail: String| DistillError::Adapter {
            path: path.to_owned(),
            detail,
        };
        let arch = base.hparams.arch.as_str();
        if self.architecture != arch {
            return Err(bad(format!(
                "made for a '{}' model, but the base {} is '{arch}'",
                self.architecture,
                base_path.display()
            )));
        }
        for p in &self.pairs {
            let Some(w) = base.shapes.get(&p.base_name) else {
                return Err(bad(format!(
                    "updates '{}', which the base {} does not have (an adapter for another base?)",
                    p.base_name,
                    base_path.display()
                )));
            };
            let fits = match (w.as_slice(), p.a_dims.as_slice(), p.b_dims.as_slice()) {
                ([out, inp], [r, a_in], [b_out, r2]) => a_in == inp && b_out == out && r == r2,
                _ => false,
            };
            if !fits {
                return Err(bad(format!(
                    "'{}' is {w:?} in the base {}, but lora_a is {:?} and lora_b {:?} (expected [r, {}] and [{}, r]; an adapter for another base?)",
                    p.base_name,
                    base_path.display(),
                    p.a_dims,
                    p.b_dims,
                    w.get(1).copied().unwrap_or(0),
                    w.first().copied().unwrap_or(0),
                )));
            }
        }
        Ok(())
    }
}

/// Reads an adapter's weights for the trainer's forward pass, after checking it against `base`.
/// Only pairs on the seven block projections are supported, all of one rank.
pub fn load_adapter(path: &Path, base: &BaseHeader, base_path: &Path) -> Result<LoraWeights> {
    let info = read_adapter(path)?;
    info.check_against(path, base, base_path)?;
    let bad = |detail: String| DistillError::Adapter {
        path: path.to_owned(),
        detail,
    };
    let (content, mut reader) = open_gguf(path)?;
    let mut pairs = Vec::new();
    let mut rank = None;
    for p in &info.pairs {
        let parsed = p
            .base_name
            .strip_prefix("blk.")
            .and_then(|s| s.strip_suffix(".weight"))
            .and_then(|s| s.split_once('.'))
            .and_then(|(l, stem)| Some((l.parse::<usize>().ok()?, Projection::parse(stem)?)));
        let Some((layer, proj)) = parsed else {
            return Err(bad(format!(
                "'{}' is not a block projection this trainer handles",
                p.base_name
            )));
        };
        let r = p.a_dims.first().copied().unwrap_or(0);
        if *rank.get_or_insert(r) != r {
            return Err(bad("pairs of different ranks".into()));
        }
        let mut get = |suffix: &str| -> Result<Var> {
            let name = format!("{}.{suffix}", p.base_name);
            let t = content
                .tensor(&mut reader, &name, &Device::Cpu)
                .and_then(|q| q.dequantize(&Device::Cpu))
                .map_err(|e| bad(format!("tensor {name}: {e}")))?;
            Ok(Var::from_tensor(&t)?)
        };
        pairs.push(LoraPair {
            layer,
            proj,
            a: get("lora_a")?,
            b: get("lora_b")?,
        });
    }
    pairs.sort_by_key(|p| (p.layer, p.proj));
    let first = pairs.iter().map(|p| p.layer).min().unwrap_or(0);
    let n_layer = base.hparams.n_layer;
    let targets: BTreeSet<Projection> = pairs.iter().map(|p| p.proj).collect();
    let alpha = if info.alpha > 0.0 {
        info.alpha
    } else {
        // llama.cpp: alpha 0 means scale 1, i.e. alpha = r.
        rank.unwrap_or(1) as f32
    };
    Ok(LoraWeights {
        config: LoraConfig {
            rank: rank.unwrap_or(1),
            alpha,
            targets: targets.into_iter().collect(),
            layers: if first == 0 {
                Layers::All
            } else {
                Layers::Top(n_layer - first)
            },
        },
        pairs,
    })
}
