//! The `13a` tokenizer: mteval-v13a's tokenisation as sacrebleu 2.6.0 applies it, the default
//! for BLEU.
//!
//! Steps, in order: drop `<skipped>`, join lines broken after a hyphen, turn newlines into
//! spaces, unescape `&quot;`, `&amp;`, `&lt;` and `&gt;` (one pass each, in that order), pad the
//! line with a space on both sides, then four rewriting passes over the characters, then collapse
//! white space to single spaces:
//!
//! 1. every ASCII symbol except `'`, `,`, `-` and `.` stands apart;
//! 2. `.` or `,` right after a character that is not an ASCII digit is spaced off;
//! 3. `.` or `,` right before a character that is not an ASCII digit is spaced off;
//! 4. `-` right after an ASCII digit is spaced off.
//!
//! Each pass scans left to right and, like a regular-expression substitution, resumes after the
//! two characters it rewrote, so `x..y` splits into `x . . y` through passes 2 and 3 together.
//! Non-ASCII characters are never split off.

use super::pystr;

/// Tokenizes `line` as sacrebleu's `Tokenizer13a` does; the result has its tokens separated by
/// single spaces, with no leading or trailing space.
///
/// BLEU strips trailing white space before calling this (see [`super::BleuStats::new`]); this
/// function itself does not, which matters only for a line ending in a hyphen and a newline.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }

    let mut chars: Vec<char> = Vec::with_capacity(line.len() * 2 + 2);
    chars.push(' ');
    for c in line.chars() {
        if stands_apart(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    chars.push(' ');
    let not_digit = |c: char| !c.is_ascii_digit();
    let period_or_comma = |c: char| c == '.' || c == ',';
    let chars = rewrite_pairs(&chars, not_digit, period_or_comma, |a, b| [a, ' ', b, ' ']);
    let chars = rewrite_pairs(&chars, period_or_comma, not_digit, |a, b| [' ', a, ' ', b]);
    let chars = rewrite_pairs(
        &chars,
        |c| c.is_ascii_digit(),
        |c| c == '-',
        |a, b| [a, ' ', b, ' '],
    );

    let spaced: String = chars.into_iter().collect();
    pystr::split(&spaced).collect::<Vec<_>>().join(" ")
}

/// Pass 1's character class: `[{-~[-\` -&(-+:-@/]`, i.e. the ASCII symbols other than
/// `'`, `,`, `-`, `.`, plus the space.
fn stands_apart(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Replaces each non-overlapping pair `(a, b)` with `first(a) && second(b)`, found scanning
/// left to right, by `rewrite(a, b)`; the scan resumes after the pair.
fn rewrite_pairs(
    chars: &[char],
    first: impl Fn(char) -> bool,
    second: impl Fn(char) -> bool,
    rewrite: impl Fn(char, char) -> [char; 4],
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 2);
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            (a, Some(&b)) if first(a) && second(b) => {
                out.extend(rewrite(a, b));
                i += 2;
            }
            (a, _) => {
                out.push(a);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings were produced by sacrebleu 2.6.0's `Tokenizer13a` on the same inputs.

    #[test]
    fn punctuation_stands_apart() {
        assert_eq!(tokenize_13a("Hello, world!"), "Hello , world !");
        assert_eq!(
            tokenize_13a("don't (hi) [x] {y} a/b a_b a~b a|b a^b"),
            "don't ( hi ) [ x ] { y } a / b a _ b a ~ b a | b a ^ b"
        );
    }

    #[test]
    fn numbers_keep_inner_commas_and_periods() {
        assert_eq!(
            tokenize_13a("It costs $1,000.50, or 3.5%."),
            "It costs $ 1,000.50 , or 3.5 % ."
        );
        assert_eq!(tokenize_13a("3,"), "3 ,");
        assert_eq!(tokenize_13a(".5"), ". 5");
        assert_eq!(tokenize_13a("a."), "a .");
    }

    #[test]
    fn periods_split_through_two_passes() {
        assert_eq!(
            tokenize_13a("e.g. x..y 1..2 ,5 a,b 5."),
            "e . g . x . . y 1 . . 2 , 5 a , b 5 ."
        );
    }

    #[test]
    fn dashes_split_only_after_a_digit() {
        assert_eq!(
            tokenize_13a("state-of-the-art 1990-2000 a - b x-1"),
            "state-of-the-art 1990 - 2000 a - b x-1"
        );
    }

    #[test]
    fn entities_are_unescaped_once_in_order() {
        assert_eq!(
            tokenize_13a("He said &quot;no&quot; &amp; left &lt;b&gt; &amp;quot;"),
            "He said \" no \" & left < b > & quot ;"
        );
    }

    #[test]
    fn newlines_skipped_markers_and_spaces() {
        assert_eq!(
            tokenize_13a("line one-\nline two\nthree"),
            "line oneline two three"
        );
        assert_eq!(tokenize_13a("a<skipped>b"), "ab");
        assert_eq!(tokenize_13a("  many   spaces\there  "), "many spaces here");
        assert_eq!(tokenize_13a(""), "");
    }

    #[test]
    fn non_ascii_is_left_whole() {
        assert_eq!(tokenize_13a("naïve café… “quoted”"), "naïve café… “quoted”");
    }
}
