//! The reader's tests: tagged calls, bare calls, and bare calls in a markdown fence.

use super::*;

fn reader() -> CallReader {
    CallReader::new(vec!["get_weather".to_owned(), "add".to_owned()].into())
}

/// Feeds `pieces`, then finishes; returns the pieces with call ids blanked.
fn read(pieces: &[&str]) -> Vec<Piece> {
    let mut r = reader();
    let mut out = Vec::new();
    for p in pieces {
        out.extend(r.push(p));
    }
    out.extend(r.finish());
    let mut merged: Vec<Piece> = Vec::new();
    for p in out {
        match p {
            Piece::Text(t) => push_text(&mut merged, &t),
            Piece::Call(mut c) => {
                assert!(c.id.starts_with("call_"), "{c:?}");
                c.id.clear();
                merged.push(Piece::Call(c));
            }
        }
    }
    merged
}

fn call(name: &str, arguments: &str) -> Piece {
    Piece::Call(ToolCall {
        id: String::new(),
        name: name.to_owned(),
        arguments: arguments.to_owned(),
    })
}

const ANSWER: &str = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>";

#[test]
fn calls_are_split_from_text_with_their_arguments_as_written() {
    assert_eq!(
        read(&[ANSWER]),
        vec![
            Piece::Text("Let me check.\n".into()),
            call("get_weather", r#"{"city": "Paris"}"#),
            call("add", r#"{"a": 1, "b": 2}"#),
        ]
    );
}

#[test]
fn any_split_of_the_text_reads_the_same() {
    let whole = read(&[ANSWER]);
    let chars: Vec<String> = ANSWER.chars().map(String::from).collect();
    let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
    assert_eq!(read(&refs), whole);
    for size in [2, 3, 5, 7, 11] {
        let chunks: Vec<String> = chars.chunks(size).map(|c| c.concat()).collect();
        let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        assert_eq!(read(&refs), whole, "chunks of {size}");
    }
}

#[test]
fn text_that_may_open_a_call_is_held_back_until_it_cannot() {
    let mut r = reader();
    assert_eq!(r.push("It is <tool"), vec![Piece::Text("It is ".into())]);
    assert_eq!(r.push("s> here"), vec![Piece::Text("<tools> here".into())]);
    assert!(!r.made_calls());
}

#[test]
fn malformed_and_unterminated_calls_come_back_as_text() {
    let broken =
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>";
    assert_eq!(read(&[broken]), vec![Piece::Text(broken.into())]);
    let unknown = "<tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>";
    assert_eq!(read(&[unknown]), vec![Piece::Text(unknown.into())]);
    let cut = "Sure <tool_call>\n{\"name\": \"get_weather\", \"argu";
    assert_eq!(read(&[cut]), vec![Piece::Text(cut.into())]);
    assert_eq!(
        read(&["<tool_call>"]),
        vec![Piece::Text("<tool_call>".into())]
    );
    assert_eq!(
        read(&["a </tool_call> b"]),
        vec![Piece::Text("a </tool_call> b".into())]
    );
}

#[test]
fn a_complete_call_without_its_closing_tag_is_still_read() {
    let open = "<tool_call>\n{\"name\": \"add\", \"parameters\": {\"a\": 1}}\n";
    assert_eq!(read(&[open]), vec![call("add", r#"{"a": 1}"#)]);
}

#[test]
fn string_encoded_arguments_are_unwrapped_and_missing_ones_are_empty() {
    let c = parse_call(r#"{"name": "f", "arguments": "{\"x\": 1}"}"#).expect("call");
    assert_eq!(c.arguments, r#"{"x": 1}"#);
    let c = parse_call(r#"{"name": "f"}"#).expect("call");
    assert_eq!(c.arguments, "{}");
    assert!(parse_call("[1, 2]").is_none());
    assert!(parse_call("").is_none());
}

#[test]
fn text_after_a_call_is_kept_without_its_leading_whitespace() {
    let text = "<tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call>\n\n  Done.";
    assert_eq!(
        read(&[text]),
        vec![call("add", "{}"), Piece::Text("Done.".into())]
    );
}

/// Reads `text` whole, a character at a time, and cut in two at every character boundary;
/// asserts all agree and returns the reading.
fn read_every_split(text: &str) -> Vec<Piece> {
    let whole = read(&[text]);
    let chars: Vec<String> = text.chars().map(String::from).collect();
    let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
    assert_eq!(read(&refs), whole, "a character at a time: {text:?}");
    for cut in (1..text.len()).filter(|&i| text.is_char_boundary(i)) {
        let (a, b) = text.split_at(cut);
        assert_eq!(read(&[a, b]), whole, "cut at {cut}: {text:?}");
    }
    whole
}

const BARE: &str = r#"{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}"#;

#[test]
fn a_bare_call_is_read_whole_and_split_anywhere() {
    let weather = || call("get_weather", r#"{"city": "Paris", "unit": "celsius"}"#);
    assert_eq!(read_every_split(BARE), vec![weather()]);
    assert_eq!(read_every_split(&format!("\n {BARE}\n")), vec![weather()]);
    let synonym = r#"{"name": "add", "parameters": {"a": 1}}"#;
    assert_eq!(read_every_split(synonym), vec![call("add", r#"{"a": 1}"#)]);
    let two = format!("{BARE}\n{{\"name\": \"add\", \"arguments\": {{}}}}");
    assert_eq!(read_every_split(&two), vec![weather(), call("add", "{}")]);
    let then_tagged =
        format!("{BARE}\n<tool_call>\n{{\"name\": \"add\", \"arguments\": {{}}}}\n</tool_call>\n");
    assert_eq!(
        read_every_split(&then_tagged),
        vec![weather(), call("add", "{}")]
    );
}

#[test]
fn what_is_not_exactly_bare_calls_comes_back_as_text_unchanged() {
    for text in [
        // Undeclared, malformed, not an object, extra keys, string arguments.
        r#"{"name": "launch", "arguments": {}}"#,
        r#"{"name": "get_weather", "arguments": {"city": }}"#,
        r#"{"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}"#,
        r#"{"name": "get_weather", "arguments": {}, "id": 3}"#,
        r#"{"name": "get_weather"}"#,
        r#"{"names": ["a", "b"]}"#,
        r#"{"city": "Paris"}"#,
        "{",
        "{\"na",
        "[1, 2]",
        // Cut off before the object closes.
        r#"{"name": "get_weather", "arguments": {"city": "Par"#,
        // Text before the object: a bare call only opens an answer.
        &format!("Here it is: {BARE}"),
        // Text after it, or after a second object that is not a call.
        &format!("{BARE}\nThis gets the weather."),
        &format!("{BARE}\n{{\"city\": \"Paris\"}}"),
        &format!("{BARE} <tools>"),
        // A tagged call first: later bare objects are text.
        &format!("<tool_call>\n{BARE}\n</tool_call>\n{BARE}"),
    ] {
        let pieces = read_every_split(text);
        let text_back: String = pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.as_str(),
                Piece::Call(_) => "",
            })
            .collect();
        if text.starts_with("<tool_call>") {
            assert_eq!(pieces.len(), 2, "{text}: {pieces:?}");
            assert_eq!(text_back, BARE, "{text}");
        } else {
            assert_eq!(pieces, vec![Piece::Text(text.to_owned())], "{text}");
        }
    }
}

#[test]
fn a_bare_call_is_held_until_it_is_known_and_other_json_is_not() {
    let mut r = reader();
    assert_eq!(r.push("  {\"na"), vec![]);
    assert_eq!(r.push("me\": \"add\", \"arguments\": {}}"), vec![]);
    assert!(!r.made_calls(), "not yet known to be a call");
    assert_eq!(r.push("\n"), vec![]);
    let done = r.finish();
    assert!(
        matches!(&done[..], [Piece::Call(c)] if c.name == "add"),
        "{done:?}"
    );
    assert!(r.made_calls());

    let mut r = reader();
    assert_eq!(r.push("{\"na"), vec![]);
    assert_eq!(
        r.push("mes\": [1"),
        vec![Piece::Text("{\"names\": [1".into())]
    );
    assert_eq!(r.push("]}"), vec![Piece::Text("]}".into())]);
    let mut r = reader();
    assert_eq!(r.push("{\"c"), vec![Piece::Text("{\"c".into())]);
    let mut r = reader();
    assert_eq!(r.push("\nHi"), vec![Piece::Text("\nHi".into())]);
}

#[test]
fn call_ids_are_unique() {
    let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_call_id()).collect();
    assert_eq!(ids.len(), 1000);
}

/// Qwen2.5-Coder's fenced call, as it writes it.
const FENCED: &str = "```json\n{\n  \"name\": \"get_weather\",\n  \"arguments\": {\n    \"city\": \"Paris\",\n    \"unit\": \"celsius\"\n  }\n}\n```";

#[test]
fn bare_calls_in_a_fence_are_read_whole_and_split_anywhere() {
    let weather = || {
        call(
            "get_weather",
            "{\n    \"city\": \"Paris\",\n    \"unit\": \"celsius\"\n  }",
        )
    };
    assert_eq!(read_every_split(FENCED), vec![weather()]);
    assert_eq!(read_every_split(&format!("\n{FENCED}\n")), vec![weather()]);
    // The closing fence is optional (the grammar, once on, lets the model end but not close).
    let unclosed = FENCED.strip_suffix("```").expect("fence");
    assert_eq!(read_every_split(unclosed), vec![weather()]);
    assert_eq!(read_every_split(unclosed.trim_end()), vec![weather()]);
    // No language, no newline, two calls.
    let add = r#"{"name": "add", "arguments": {"a": 1}}"#;
    for text in [
        format!("```{add}```"),
        format!("```\n{add}\n```\n"),
        format!("```json {add}"),
    ] {
        assert_eq!(
            read_every_split(&text),
            vec![call("add", r#"{"a": 1}"#)],
            "{text}"
        );
    }
    let two = format!("```json\n{BARE}\n{add}\n```");
    let bare_weather = call("get_weather", r#"{"city": "Paris", "unit": "celsius"}"#);
    assert_eq!(
        read_every_split(&two),
        vec![bare_weather.clone(), call("add", r#"{"a": 1}"#)]
    );
    let two_unclosed = format!("```json\n{BARE}\n\n{add}\n");
    assert_eq!(
        read_every_split(&two_unclosed),
        vec![bare_weather, call("add", r#"{"a": 1}"#)]
    );
}

#[test]
fn fences_around_anything_but_calls_come_back_as_text_unchanged() {
    let add = r#"{"name": "add", "arguments": {"a": 1}}"#;
    for text in [
        // Other code, another language, other JSON, an undeclared function, an empty fence.
        "```python\nprint(1)\n```".to_owned(),
        "```js\n{\"name\": \"add\", \"arguments\": {}}\n```".to_owned(),
        "```jsonc\n{\"name\": \"add\", \"arguments\": {}}\n```".to_owned(),
        "```json\n{\"city\": \"Paris\"}\n```".to_owned(),
        "```json\n[1, 2]\n```".to_owned(),
        "```json\n{\"name\": \"launch\", \"arguments\": {}}\n```".to_owned(),
        "```json\n```".to_owned(),
        "```json\n".to_owned(),
        "``".to_owned(),
        "`add`".to_owned(),
        // A call cut off, text after the call or after the closing fence, a second fence.
        "```json\n{\"name\": \"add\", \"arguments\": {\"a\"".to_owned(),
        format!("```json\n{add}\nThat adds.\n```"),
        format!("```json\n{add}\n```\nThis adds one."),
        format!("```json\n{add}\n``` "),
        format!("```json\n{add}\n````"),
        format!("```json\n{add}\n```\n```json\n{add}\n```"),
        format!("```json\n{add}\n<tool_call>\n{add}\n</tool_call>"),
        // Text before the fence; a fence after bare calls.
        format!("Here:\n```json\n{add}\n```"),
        format!("{add}\n```"),
    ] {
        let pieces = read_every_split(&text);
        if text.ends_with("</tool_call>") {
            // The tagged call is still a call; the fenced object before it is text.
            assert_eq!(pieces.len(), 2, "{text}: {pieces:?}");
            assert!(matches!(&pieces[1], Piece::Call(c) if c.name == "add"));
        } else if text.ends_with("``` ") {
            // Only whitespace after the closing fence: calls.
            assert_eq!(pieces, vec![call("add", r#"{"a": 1}"#)], "{text}");
        } else {
            assert_eq!(pieces, vec![Piece::Text(text.clone())], "{text}");
        }
    }
}

#[test]
fn a_fence_is_held_while_it_may_still_hold_calls() {
    let mut r = reader();
    assert_eq!(r.push("``"), vec![]);
    assert_eq!(r.push("`js"), vec![]);
    assert_eq!(r.push("on\n{\"name\": \"add\""), vec![]);
    assert_eq!(r.push(", \"arguments\": {}}\n``"), vec![]);
    assert_eq!(r.push("`\n"), vec![]);
    assert!(!r.made_calls(), "not yet known to be a call");
    let done = r.finish();
    assert!(
        matches!(&done[..], [Piece::Call(c)] if c.name == "add"),
        "{done:?}"
    );

    let mut r = reader();
    assert_eq!(r.push("```"), vec![]);
    assert_eq!(r.push("py"), vec![Piece::Text("```py".into())]);
    let mut r = reader();
    assert_eq!(r.push("`x"), vec![Piece::Text("`x".into())]);
}
