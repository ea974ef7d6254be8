//! What talking to a model prints besides its answer: the timings line, and log-likelihood
//! scores of continuations (`rightfit chat --timings`, `rightfit loglik`).

use rightfit_types::{LoglikelihoodResponse, Timings, Usage};
use serde_json::json;

use crate::fmt::table;

/// Tokens and times of one answer, in brackets.
pub fn timings_line(u: &Usage, t: &Timings) -> String {
    format!(
        "[prompt {} tok ({} cached) · generated {} tok · queue {:.0} ms · first token {:.0} ms · total {:.0} ms{}]",
        u.prompt_tokens,
        u.cached_prompt_tokens,
        u.completion_tokens,
        t.queue_ms,
        t.ttft_ms,
        t.total_ms,
        t.generation_tokens_per_s()
            .map_or_else(String::new, |r| format!(" · {r:.1} tok/s"))
    )
}

/// Each continuation's score, and which is best, as JSON.
pub fn loglik_json(r: &LoglikelihoodResponse, continuations: &[String]) -> serde_json::Value {
    json!({
        "context_tokens": r.context_tokens,
        "best": r.best(),
        "scores": r.scores.iter().zip(continuations).map(|(s, c)| json!({
            "continuation": c,
            "logprob": s.logprob,
            "tokens": s.tokens,
            "mean_logprob": s.mean_logprob(),
            "is_greedy": s.is_greedy,
        })).collect::<Vec<_>>(),
    })
}

/// The same as a table, the best marked `*`.
pub fn loglik_terminal(r: &LoglikelihoodResponse, continuations: &[String]) -> String {
    let best = r.best();
    let mut t = table(&[
        "",
        "continuation",
        "log p",
        "tokens",
        "log p / token",
        "greedy",
    ]);
    for (i, (s, c)) in r.scores.iter().zip(continuations).enumerate() {
        t.add_row(vec![
            if Some(i) == best {
                "*".to_owned()
            } else {
                String::new()
            },
            format!("{c:?}"),
            format!("{:.4}", s.logprob),
            s.tokens.to_string(),
            format!("{:.4}", s.mean_logprob()),
            if s.is_greedy { "yes" } else { "no" }.to_owned(),
        ]);
    }
    format!("{t}\n")
}
