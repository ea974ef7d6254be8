//! Python's notion of white space, which sacrebleu relies on through `str.split()` and
//! `str.rstrip()`.
//!
//! Python's `str.isspace` is Rust's `char::is_whitespace` plus the four ASCII information
//! separators U+001C..=U+001F; using Rust's definition alone would keep those inside tokens and
//! change scores on text that contains them.

/// Whether Python's `str.isspace` holds for `c`.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The words of `s` as Python's `s.split()` returns them: runs of white space separate, and
/// leading or trailing white space yields no empty word.
pub(crate) fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|w| !w.is_empty())
}

/// `s` without trailing white space, as Python's `s.rstrip()`.
pub(crate) fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn information_separators_split_like_python() {
        let words: Vec<&str> = split("a\u{1c}b\u{1f} c\u{a0}d\u{3000}").collect();
        assert_eq!(words, ["a", "b", "c", "d"]);
    }

    #[test]
    fn zero_width_space_is_not_white_space() {
        // U+200B is neither Python nor Unicode white space.
        assert_eq!(split("a\u{200b}b").count(), 1);
    }

    #[test]
    fn rstrip_removes_only_the_tail() {
        assert_eq!(rstrip("  a b \n\u{1e}\t"), "  a b");
        assert_eq!(rstrip(" \n"), "");
    }
}
