//! LoRA fine-tuning of small GGUF models on the CPU, with candle, producing adapters that
//! llama.cpp (and so `rightfit-llama`'s engine) loads on the unchanged base model.
//!
//! - [`base`]: reads a `llama` or `qwen2` GGUF (hyper-parameters, weights dequantised to F32).
//! - [`lora`]: LoRA settings and weights, named after the base tensors they update.
//! - [`forward`]: the trainable forward pass, loss on answer tokens only.
//! - [`optim`], [`train`], [`checkpoint`]: AdamW, schedule, clipping, the step loop's pieces,
//!   and checkpoints that resume exactly.
//! - [`adapter`]: the adapter GGUF writer in llama.cpp's layout, and the reader that checks an
//!   adapter against a base.
//!
//! Threads: candle multiplies matrices on `RAYON_NUM_THREADS` threads, and runs element-wise ops
//! on a pool of `CANDLE_NUM_THREADS` (default: the same) whose workers spin while they wait. On a
//! small shared machine the spinning steals the cores the products need (1.75× slower measured
//! on 2 busy cores): a program that trains should set `CANDLE_NUM_THREADS=1` before its first
//! tensor operation. Both are read once, from the environment.
//!
//! Above those, a student of a project (`rightfit distill`):
//!
//! - [`data`]: a student's training rows from a dataset, the split, a teacher or traffic, with
//!   rows that are also evaluated refused;
//! - [`lora_student`], [`classifier_student`]: the two kinds, trained and written;
//! - [`manifest`]: `student.json`, the provenance and figures, checked against the files;
//! - [`job`]: one student end to end, left alone when already trained on the same things.
//!
//! Talks to: `rightfit-config` (students), `rightfit-eval` (examples, prompts, teachers),
//! `rightfit-registry` (teachers, bases, embedders), `rightfit-llama` (tokens as the engine
//! makes them), `rightfit-students` (the classifier) and `rightfit-store` (cache, traffic).

pub mod adapter;
pub mod base;
pub mod checkpoint;
pub mod classifier_student;
mod context;
pub mod data;
mod error;
pub mod export;
pub mod forward;
pub mod job;
pub mod lora;
pub mod lora_student;
pub mod manifest;
mod ops;
pub mod optim;
pub mod train;

pub use adapter::{AdapterInfo, load_adapter, read_adapter, write_adapter};
pub use base::{Arch, BaseHeader, BaseModel, Hparams};
pub use error::{DistillError, Result};
pub use forward::{Batch, Example, Model};
pub use lora::{Layers, LoraConfig, LoraWeights, Projection};
pub use optim::OptimConfig;
pub use train::{StepStats, Trainer};
