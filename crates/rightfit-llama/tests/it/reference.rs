//! llama.cpp's own reference files, from the llama-cpp-python sdist `scripts/test-tools` pins:
//! the vocabulary-only GGUF files with their expected token ids, and the chat-template cases of
//! `tests/test-chat-template.cpp`, read from the C++ source itself.

use std::path::PathBuf;

/// The directory `scripts/test-tools` extracts the files into (`RIGHTFIT_TEST_LLAMA_VOCAB`).
/// Fails (does not skip) when it is not set: run the tests with `scripts/test`.
pub fn llama_reference() -> PathBuf {
    let var = rightfit_config::env::TEST_LLAMA_VOCAB;
    let dir = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: run the tests with scripts/test (scripts/test-tools extracts \
             llama.cpp's vocabulary files and test-chat-template.cpp)"
        )
    });
    assert!(
        dir.join("test-chat-template.cpp").is_file(),
        "{var}={}: no test-chat-template.cpp there; run scripts/test-tools again",
        dir.display()
    );
    dir
}

/// One case of `test-chat-template.cpp`: its name, the Jinja template a model ships, and what
/// `llama_chat_apply_template` must render for the test's conversation.
#[derive(Debug, Clone)]
pub struct TemplateCase {
    pub name: String,
    pub template: String,
    pub expected: String,
}

/// Every case of `main_automated_tests`' `test_cases` table. Each case starts with a
/// `/* .name= */` comment; its `/* .template_str */` and `/* .expected_output= */` follow.
pub fn reference_template_cases() -> Vec<TemplateCase> {
    let path = llama_reference().join("test-chat-template.cpp");
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let table = source
        .find("std::vector<TestCase> test_cases")
        .unwrap_or_else(|| panic!("{}: no test_cases table", path.display()));
    let mut cases = Vec::new();
    let mut rest = &source[table..];
    while let Some(start) = rest.find("/* .name= */") {
        rest = &rest[start + "/* .name= */".len()..];
        let end = rest.find("/* .name= */").unwrap_or(rest.len());
        let block = &rest[..end];
        let (name, _) = literal(block);
        let after = |marker: &str| {
            let i = block
                .find(marker)
                .unwrap_or_else(|| panic!("case {name:?}: no {marker}"));
            let tail = &block[i + marker.len()..];
            // `/* .template_str= */` or `/* .template_str */`.
            literal(&tail[tail.find("*/").map_or(0, |j| j + 2)..]).0
        };
        cases.push(TemplateCase {
            template: after("/* .template_str"),
            expected: after("/* .expected_output="),
            name,
        });
    }
    assert!(
        cases.len() > 20,
        "{}: {} cases",
        path.display(),
        cases.len()
    );
    cases
}

/// The C++ string literal at the start of `text` (after blanks; adjacent literals joined; a
/// `U8C(...)` wrapper allowed), and the text after it.
fn literal(text: &str) -> (String, &str) {
    let mut rest = text.trim_start();
    let wrapped = rest.starts_with("U8C(");
    if wrapped {
        rest = &rest[4..];
    }
    let mut out = String::new();
    let mut any = false;
    loop {
        rest = rest.trim_start();
        let Some(body) = rest.strip_prefix('"') else {
            break;
        };
        any = true;
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                '\\' => {
                    let (_, e) = chars.next().expect("an escape");
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '"' => '"',
                        '\'' => '\'',
                        '\\' => '\\',
                        other => panic!("unexpected escape \\{other} in test-chat-template.cpp"),
                    });
                }
                c => out.push(c),
            }
        }
        rest = &body[end.expect("a closing quote")..];
    }
    assert!(
        any,
        "no string literal at {:?}",
        &text[..text.len().min(60)]
    );
    if wrapped {
        rest = rest.trim_start().strip_prefix(')').expect("U8C(...)");
    }
    (out, rest)
}

#[test]
fn the_cpp_literal_reader_joins_unescapes_and_unwraps() {
    let (s, rest) = literal(r#"  "a\n\"b\"" "c\\d" , next"#);
    assert_eq!(s, "a\n\"b\"c\\d");
    assert_eq!(rest, ", next");
    let (s, rest) = literal(r#"U8C("<用户>\n")),"#);
    assert_eq!((s.as_str(), rest), ("<用户>\n", "),"));
}
