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
//! Talks to no other rightfit crate: callers tokenise with the engine (so that training and
//! serving tokens match) and hand over token ids; the engine loads the adapters written here.

pub mod adapter;
pub mod base;
pub mod checkpoint;
mod error;
pub mod forward;
pub mod lora;
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
