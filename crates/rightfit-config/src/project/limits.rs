//! Upper bounds on the counts and sizes a project file sets. A value past one can only fail
//! later (an allocation that aborts, a context no machine holds, a prompt no model takes), so it
//! is refused where the file is read, with the line, instead of hours into a run.

/// Few-shot examples per prompt (`k`, `few_shot.k`): past this no context holds the prompt.
pub const SHOTS: usize = 256;
/// Examples in a few-shot pool (`few_shot.pool`).
pub const POOL: usize = 100_000;
/// Tokens one answer may have (`max_tokens` of a component, candidate or judge).
pub const MAX_TOKENS: u32 = 131_072;
/// A local model's context (`context_size`), tokens shared by its sequences.
pub const CONTEXT: u32 = 1_048_576;
/// Sequences a local model decodes together (`parallel`), and requests in flight per model
/// (`concurrency`).
pub const PARALLEL: usize = 1_024;
/// Self-consistency samples per example (`samples`).
pub const SAMPLES: u32 = 64;
/// Reflection rounds per example (`rounds`).
pub const ROUNDS: u32 = 16;

/// `Err` with the allowed range when `value` is outside `min..=max`.
pub(crate) fn within<T: PartialOrd + std::fmt::Display>(
    value: T,
    min: T,
    max: T,
) -> Result<(), String> {
    if value < min || value > max {
        Err(format!("{value} is out of range: between {min} and {max}"))
    } else {
        Ok(())
    }
}
