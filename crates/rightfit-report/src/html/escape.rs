//! User text made safe to put in the page.

/// Text made safe for HTML content and double- or single-quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text`, and how many were left out.
pub(crate) fn cap(text: &str, max: usize) -> (&str, usize) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (&text[..at], text[at..].chars().count()),
        None => (text, 0),
    }
}

/// `text` escaped and capped at `max` characters, with a note saying how many more there were.
pub(crate) fn esc_capped(text: &str, max: usize) -> String {
    let (shown, rest) = cap(text, max);
    if rest == 0 {
        esc(shown)
    } else {
        format!(
            "{}<span class=\"more\">… ({rest} more characters not shown)</span>",
            esc(shown)
        )
    }
}
