//! What talking to a model prints besides its answer: the timings line, the answer's token
//! log-probabilities, and log-likelihood scores of continuations (`rightfit chat --timings`,
//! `rightfit chat --logprobs`, `rightfit loglik`).

use rightfit_types::{LoglikelihoodResponse, Timings, TokenLogprob, Usage};
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

/// The answer's tokens with their log-probabilities and probabilities, the alternatives asked for,
/// and a last line with the mean and least log-probability (what a cascade's token confidence reads).
pub fn logprobs_terminal(tokens: &[TokenLogprob]) -> String {
    let wants_top = tokens.iter().any(|t| !t.top.is_empty());
    let mut header = vec!["#", "token", "log p", "p"];
    if wants_top {
        header.push("alternatives (log p)");
    }
    let mut t = table(&header);
    for (i, tok) in tokens.iter().enumerate() {
        let mut row = vec![
            (i + 1).to_string(),
            format!("{:?}", tok.token),
            format!("{:.4}", tok.logprob),
            format!("{:.3}", tok.logprob.exp()),
        ];
        if wants_top {
            let alts: Vec<String> = tok
                .top
                .iter()
                .map(|a| format!("{:?} {:.2}", a.token, a.logprob))
                .collect();
            row.push(alts.join(", "));
        }
        t.add_row(row);
    }
    let n = tokens.len().max(1) as f64;
    let mean = tokens.iter().map(|t| t.logprob).sum::<f64>() / n;
    let min = tokens.iter().map(|t| t.logprob).fold(0.0, f64::min);
    format!(
        "{t}\n{} tokens · mean log p {mean:.4} (p {:.3}) · least log p {min:.4} (p {:.3})\n",
        tokens.len(),
        mean.exp(),
        min.exp()
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

#[cfg(test)]
mod tests {
    use rightfit_types::TopLogprob;

    use super::*;

    #[test]
    fn logprobs_table_lists_tokens_alternatives_and_the_summary() {
        let tok = |t: &str, lp: f64, top: &[(&str, f64)]| TokenLogprob {
            token: t.to_owned(),
            logprob: lp,
            top: top
                .iter()
                .map(|(t, lp)| TopLogprob {
                    token: (*t).to_owned(),
                    logprob: *lp,
                })
                .collect(),
        };
        let out = logprobs_terminal(&[
            tok("Hello", -0.1, &[("Hello", -0.1), ("Hi", -2.5)]),
            tok(" world", -1.0, &[(" world", -1.0), ("!", -1.2)]),
        ]);
        assert!(out.contains("\"Hi\" -2.50"), "{out}");
        assert!(out.contains("\" world\""), "{out}");
        assert!(
            out.contains("2 tokens · mean log p -0.5500 (p 0.577) · least log p -1.0000 (p 0.368)"),
            "{out}"
        );
        // Without alternatives there is no alternatives column.
        assert!(!logprobs_terminal(&[tok("a", -0.5, &[])]).contains("alternatives"));
    }
}
