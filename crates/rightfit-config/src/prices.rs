//! List prices of hosted models, US dollars per million tokens, for models whose config gives no
//! `price`.
//!
//! The figures are the vendors' published standard-tier list prices for text (the shortest
//! context tier where prices depend on prompt length; no batch or cached-input discounts), as
//! compiled on [`CATALOGUE_DATE`] from openai.com/api/pricing, anthropic.com/pricing and
//! ai.google.dev/gemini-api/docs/pricing. Prices change: `rightfit config check` shows the date
//! next to every price taken from here, and `price = { input = …, output = … }` on a model
//! overrides it.

/// Price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million generated tokens.
    pub output: f64,
}

impl Price {
    /// Cost of one call.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input + tokens_out as f64 * self.output) / 1_000_000.0
    }
}

/// When the catalogue's figures were compiled.
pub const CATALOGUE_DATE: &str = "2025-11-25";

/// `(provider, model id prefix, input, output)`.
const CATALOGUE: &[(&str, &str, f64, f64)] = &[
    // OpenAI
    ("openai", "gpt-4o", 2.50, 10.00),
    ("openai", "gpt-4o-2024-05-13", 5.00, 15.00),
    ("openai", "gpt-4o-mini", 0.15, 0.60),
    ("openai", "gpt-4.1", 2.00, 8.00),
    ("openai", "gpt-4.1-mini", 0.40, 1.60),
    ("openai", "gpt-4.1-nano", 0.10, 0.40),
    ("openai", "gpt-5", 1.25, 10.00),
    ("openai", "gpt-5-mini", 0.25, 2.00),
    ("openai", "gpt-5-nano", 0.05, 0.40),
    ("openai", "gpt-5.1", 1.25, 10.00),
    ("openai", "o3", 2.00, 8.00),
    ("openai", "o4-mini", 1.10, 4.40),
    ("openai", "gpt-4-turbo", 10.00, 30.00),
    ("openai", "gpt-3.5-turbo", 0.50, 1.50),
    // Anthropic
    ("anthropic", "claude-3-haiku", 0.25, 1.25),
    ("anthropic", "claude-3-sonnet", 3.00, 15.00),
    ("anthropic", "claude-3-opus", 15.00, 75.00),
    ("anthropic", "claude-3-5-haiku", 0.80, 4.00),
    ("anthropic", "claude-3-5-sonnet", 3.00, 15.00),
    ("anthropic", "claude-3-7-sonnet", 3.00, 15.00),
    ("anthropic", "claude-sonnet-4", 3.00, 15.00),
    ("anthropic", "claude-sonnet-4-5", 3.00, 15.00),
    ("anthropic", "claude-opus-4", 15.00, 75.00),
    ("anthropic", "claude-opus-4-1", 15.00, 75.00),
    ("anthropic", "claude-opus-4-5", 5.00, 25.00),
    ("anthropic", "claude-haiku-4-5", 1.00, 5.00),
    // Google
    ("gemini", "gemini-1.5-flash", 0.075, 0.30),
    ("gemini", "gemini-1.5-flash-8b", 0.0375, 0.15),
    ("gemini", "gemini-1.5-pro", 1.25, 5.00),
    ("gemini", "gemini-2.0-flash", 0.10, 0.40),
    ("gemini", "gemini-2.0-flash-lite", 0.075, 0.30),
    ("gemini", "gemini-2.5-flash", 0.30, 2.50),
    ("gemini", "gemini-2.5-flash-lite", 0.10, 0.40),
    ("gemini", "gemini-2.5-pro", 1.25, 10.00),
];

/// The catalogue price of a model, for a provider kind as config spells it (`openai`,
/// `anthropic`, `gemini`). Snapshot ids (`gpt-4o-2024-08-06`, `claude-3-5-sonnet-20241022`,
/// `claude-3-5-sonnet-latest`, `gemini-1.5-flash-002`, `models/gemini-2.5-pro`) match their
/// family: the longest catalogue id that the model id starts with, followed by `-`, `@` or
/// nothing. Unknown models give `None`.
pub fn lookup(provider: &str, model: &str) -> Option<Price> {
    let model = model.strip_prefix("models/").unwrap_or(model);
    CATALOGUE
        .iter()
        .filter(|(p, id, _, _)| {
            *p == provider
                && model.strip_prefix(id).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('-') || rest.starts_with('@')
                })
        })
        .max_by_key(|(_, id, _, _)| id.len())
        .map(|&(_, _, input, output)| Price { input, output })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(provider: &str, model: &str) -> Option<(f64, f64)> {
        lookup(provider, model).map(|p| (p.input, p.output))
    }

    #[test]
    fn families_and_snapshots() {
        assert_eq!(price("openai", "gpt-4o"), Some((2.5, 10.0)));
        assert_eq!(price("openai", "gpt-4o-2024-08-06"), Some((2.5, 10.0)));
        assert_eq!(price("openai", "gpt-4o-2024-05-13"), Some((5.0, 15.0)));
        assert_eq!(price("openai", "gpt-4o-mini-2024-07-18"), Some((0.15, 0.6)));
        assert_eq!(
            price("anthropic", "claude-3-5-sonnet-20241022"),
            Some((3.0, 15.0))
        );
        assert_eq!(
            price("anthropic", "claude-3-haiku-20240307"),
            Some((0.25, 1.25))
        );
        assert_eq!(
            price("gemini", "models/gemini-1.5-pro-002"),
            Some((1.25, 5.0))
        );
        assert_eq!(price("gemini", "gemini-1.5-flash-8b"), Some((0.0375, 0.15)));
    }

    #[test]
    fn no_false_family_match() {
        assert_eq!(price("openai", "gpt-4"), None);
        assert_eq!(price("openai", "gpt-4oo"), None);
        assert_eq!(price("anthropic", "gpt-4o"), None);
        assert_eq!(price("openai-compatible", "gpt-4o"), None);
    }

    #[test]
    fn the_issue_s_models_are_all_priced() {
        for (p, m) in [
            ("openai", "gpt-4o"),
            ("openai", "gpt-4o-mini"),
            ("anthropic", "claude-3-haiku-20240307"),
            ("anthropic", "claude-3-sonnet-20240229"),
            ("anthropic", "claude-3-opus-20240229"),
            ("anthropic", "claude-3-5-sonnet-20241022"),
            ("gemini", "gemini-1.5-flash"),
            ("gemini", "gemini-1.5-pro"),
            ("openai", "gpt-5"),
            ("anthropic", "claude-sonnet-4-5-20250929"),
            ("gemini", "gemini-2.5-pro"),
        ] {
            assert!(lookup(p, m).is_some(), "{p} {m}");
        }
    }
}
