//! Structured random inputs for the fuzz tests of every parser that takes outside bytes (SSE, the
//! providers' and the gateway's wire formats, the config loader, the dataset readers, GGUF
//! headers, `rightfit score`'s files).
//!
//! An input is a valid seed mutated the way coverage-guided fuzzers mutate — bit flips, a byte
//! set, a run deleted or repeated, the input cut short, a token parsers treat specially (quotes,
//! brackets, line ends, `data: `, huge or negative numbers, invalid UTF-8, all-ones lengths)
//! inserted, two seeds spliced — or, now and then, plain random bytes. Each test runs
//! [`config`]'s number of cases: `RIGHTFIT_FUZZ_CASES`, 256 by default; `scripts/fuzz` sets
//! far more. A failing case is shrunk by proptest and printed, to become a regression test.

use proptest::prelude::*;
use proptest::test_runner::Config;
use rightfit_config::env;

/// Cases per fuzz test when `RIGHTFIT_FUZZ_CASES` is unset.
pub const DEFAULT_CASES: u32 = 256;

/// The proptest configuration of a fuzz test: [`cases`] cases, nothing persisted to disk.
pub fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    }
}

/// `RIGHTFIT_FUZZ_CASES`, or [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var(env::FUZZ_CASES)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Bytes parsers treat specially.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\n",
    b"\r\n",
    b"\r",
    b"\n\n",
    b"\t",
    b" ",
    b"=",
    b"#",
    b"'",
    b"\\",
    b"data: ",
    b"event: ",
    b"id: ",
    b": keep-alive\n",
    b"[DONE]",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"1e999",
    b"-0.0",
    b"NaN",
    b"18446744073709551616",
    b"99999999999999999999999999",
    b"\\u0000",
    b"\\ud800",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\x00",
    b"\xef\xbb\xbf",
    b"[[",
    b"]]",
    b"\"\"\"",
    b"GGUF",
    b"\xff\xff\xff\xff",
    b"\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x00\x00\x00\x00\x00\x00\x00\x80",
    b"\x08\x00\x00\x00",
];

/// One edit of an input; positions are taken modulo its length.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, usize),
    Delete(usize, usize),
    Repeat(usize, usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Edit::Flip(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Edit::Set(p, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), 1usize..32, 1usize..64).prop_map(|(p, n, k)| Edit::Repeat(p, n, k)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
        match *e {
            Edit::Flip(p, bit) if !v.is_empty() => {
                let i = at(p, v.len());
                v[i] ^= 1 << bit;
            }
            Edit::Set(p, b) if !v.is_empty() => {
                let i = at(p, v.len());
                v[i] = b;
            }
            Edit::Insert(p, t) => {
                let i = at(p, v.len() + 1);
                v.splice(i..i, TOKENS[t].iter().copied());
            }
            Edit::Delete(p, n) if !v.is_empty() => {
                let i = at(p, v.len());
                v.drain(i..(i + n).min(v.len()));
            }
            Edit::Repeat(p, n, k) if !v.is_empty() => {
                let i = at(p, v.len());
                let run: Vec<u8> = v[i..(i + n).min(v.len())].to_vec();
                for _ in 0..k {
                    v.splice(i..i, run.iter().copied());
                }
            }
            Edit::Truncate(p) => {
                let keep = at(p, v.len() + 1);
                v.truncate(keep);
            }
            _ => {}
        }
    }
    v
}

/// Inputs grown from `seeds` (valid inputs of the parser under test).
pub fn bytes(seeds: Vec<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
    assert!(!seeds.is_empty(), "a fuzz test needs at least one seed");
    let pick = proptest::sample::select(seeds);
    let mutated =
        (pick.clone(), proptest::collection::vec(edit(), 1..8)).prop_map(|(s, e)| apply(s, &e));
    let spliced =
        (pick.clone(), pick.clone(), any::<usize>(), any::<usize>()).prop_map(|(a, b, i, j)| {
            let (i, j) = (i % (a.len() + 1), j % (b.len() + 1));
            let mut out = a[..i].to_vec();
            out.extend_from_slice(&b[j..]);
            out
        });
    prop_oneof![
        1 => pick,
        12 => mutated,
        2 => spliced,
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
    .boxed()
}

/// [`bytes`] as text (invalid UTF-8 replaced), for parsers that take `&str`.
pub fn text(seeds: Vec<String>) -> BoxedStrategy<String> {
    bytes(seeds.into_iter().map(String::into_bytes).collect())
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::{Edit, apply};

    #[test]
    fn edits_stay_inside_the_input() {
        let seed = b"{\"a\": 1}".to_vec();
        assert_eq!(apply(seed.clone(), &[Edit::Truncate(3)]), b"{\"a");
        assert_eq!(apply(seed.clone(), &[Edit::Delete(7, 100)]), b"{\"a\": 1");
        assert_eq!(apply(seed.clone(), &[Edit::Set(100, b'x')]), b"{\"a\"x 1}");
        assert_eq!(
            apply(Vec::new(), &[Edit::Flip(5, 3), Edit::Delete(0, 4)]),
            b""
        );
        assert_eq!(apply(b"ab".to_vec(), &[Edit::Repeat(1, 1, 3)]), b"abbbb");
        assert_eq!(apply(b"ab".to_vec(), &[Edit::Insert(2, 0)]), b"ab{");
    }
}
