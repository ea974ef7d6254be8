//! Tool-call metrics, in the manner of the Berkeley Function Calling Leaderboard's AST checks.
//!
//! Each takes an answer (the calls as canonical JSON, or text: no call; see
//! [`crate::tool_call`]) and a reference (`{"tools", "expected"}`). Names the model called by
//! their API-safe form (`math_factorial`) are read back as declared (`math.factorial`) first.
//!
//! - [`exact`]: BFCL's AST match (see [`ast`]); no call expected is met by no call.
//! - [`names`]: the set of functions called equals the expected set.
//! - [`arguments`]: partial credit: over every expected and every given argument of calls paired
//!   by name (the pairs with the most right arguments first), the share that is right (given and
//!   correct, or left out where allowed); calls without a partner count all their arguments (at
//!   least one) wrong.
//! - [`valid`]: every call names an offered function and its arguments conform to its schema
//!   (BFCL's types read as JSON Schema); an answer without calls is valid.

pub mod ast;

#[cfg(test)]
mod golden_tests;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::tool_call::{self, AnswerCall, schema};

/// An answer's calls with their names read back as declared.
pub fn calls(answer: &str, reference: &Value) -> Vec<AnswerCall> {
    let functions = tool_call::offered(reference);
    tool_call::parse_answer(answer)
        .into_iter()
        .map(|c| AnswerCall {
            name: schema::declared_name(&c.name, functions).to_owned(),
            ..c
        })
        .collect()
}

fn one(ok: bool) -> f64 {
    if ok { 1.0 } else { 0.0 }
}

/// `tool_exact`: 1 when the calls pass BFCL's AST check against the expected calls.
pub fn exact(calls: &[AnswerCall], reference: &Value) -> f64 {
    let given: Vec<ast::Given<'_>> = calls
        .iter()
        .map(|c| (c.name.as_str(), c.arguments.as_ref()))
        .collect();
    let expected = tool_call::expected(reference);
    one(ast::calls_ok(
        tool_call::offered(reference),
        &given,
        &expected,
    ))
}

/// `tool_name`: 1 when the functions called are the functions expected (as sets).
pub fn names(calls: &[AnswerCall], reference: &Value) -> f64 {
    let given: BTreeSet<&str> = calls.iter().map(|c| c.name.as_str()).collect();
    let expected: BTreeSet<&str> = tool_call::expected(reference)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    one(given == expected)
}

/// `tool_args`: the share of arguments that are right, over calls paired by name (the pairs
/// with the most right arguments first).
pub fn arguments(calls: &[AnswerCall], reference: &Value) -> f64 {
    let expected = tool_call::expected(reference);
    if expected.is_empty() {
        return one(calls.is_empty());
    }
    let functions = tool_call::offered(reference);
    // Every same-name pair with its (right, total) arguments.
    let mut pairs = Vec::new();
    for (e, (name, allowed)) in expected.iter().enumerate() {
        for (c, call) in calls.iter().enumerate().filter(|(_, c)| c.name == *name) {
            let properties = ast::find(functions, name).and_then(|f| ast::parameters(f).0);
            pairs.push((e, c, pair_score(call, allowed, properties)));
        }
    }
    pairs.sort_by(|a, b| b.2.0.cmp(&a.2.0).then((a.0, a.1).cmp(&(b.0, b.1))));
    let mut expected_used = vec![false; expected.len()];
    let mut calls_used = vec![false; calls.len()];
    let (mut right, mut total) = (0usize, 0usize);
    for (e, c, (r, t)) in pairs {
        if !expected_used[e] && !calls_used[c] {
            expected_used[e] = true;
            calls_used[c] = true;
            right += r;
            total += t;
        }
    }
    for ((_, allowed), _) in expected.iter().zip(&expected_used).filter(|(_, u)| !**u) {
        total += allowed.len().max(1);
    }
    for (c, _) in calls.iter().zip(&calls_used).filter(|(_, u)| !**u) {
        total += c.arguments.as_ref().map_or(1, |a| a.len().max(1));
    }
    if total == 0 {
        return 1.0;
    }
    right as f64 / total as f64
}

/// Right and total arguments of one call against one expected call of the same function: each
/// expected or given argument is right when given and correct, or left out where allowed. A
/// call of a function without arguments counts once (right when its arguments parse).
fn pair_score(
    call: &AnswerCall,
    allowed: &Map<String, Value>,
    properties: Option<&Map<String, Value>>,
) -> (usize, usize) {
    let empty = Map::new();
    let given = call.arguments.as_ref().unwrap_or(&empty);
    let keys: BTreeSet<&String> = allowed.keys().chain(given.keys()).collect();
    if keys.is_empty() {
        return (usize::from(call.arguments.is_some()), 1);
    }
    let right = keys
        .iter()
        .filter(|key| {
            let options = allowed.get(**key).and_then(Value::as_array);
            match (given.get(**key), options) {
                (Some(value), Some(options)) => properties
                    .and_then(|p| p.get(**key))
                    .is_some_and(|spec| ast::argument_ok(spec, value, options)),
                (None, Some(options)) => options.iter().any(|o| o.as_str() == Some("")),
                _ => false,
            }
        })
        .count();
    (right, keys.len())
}

/// `tool_valid`: 1 when every call names an offered function and its arguments conform to the
/// function's parameters schema.
pub fn valid(calls: &[AnswerCall], reference: &Value) -> f64 {
    let functions = tool_call::offered(reference);
    one(calls.iter().all(|c| {
        let (Some(function), Some(arguments)) = (ast::find(functions, &c.name), &c.arguments)
        else {
            return false;
        };
        let parameters = function.get("parameters").map_or_else(
            || serde_json::json!({"type": "object"}),
            schema::json_schema,
        );
        // A schema that does not compile cannot be met.
        jsonschema::validator_for(&parameters)
            .is_ok_and(|v| v.is_valid(&Value::Object(arguments.clone())))
    }))
}

/// The calls as a JSON value for the record's `parsed` field.
pub fn parsed(calls: &[AnswerCall]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "arguments": c.arguments.clone().map_or(Value::Null, Value::Object),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference() -> Value {
        tool_call::reference(
            vec![
                json!({"name": "math.hypot", "parameters": {"type": "dict", "properties": {
                    "x": {"type": "integer"}, "y": {"type": "integer"}, "z": {"type": "integer"}
                }, "required": ["x", "y"]}}),
                json!({"name": "weather", "parameters": {"type": "dict", "properties": {
                    "city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}
                }, "required": ["city"]}}),
            ],
            &json!([
                {"math.hypot": {"x": [4], "y": [5], "z": ["", 0]}},
                {"weather": {"city": ["San Francisco", "SF"], "unit": ["", "c"]}}
            ]),
        )
        .expect("reference")
    }

    fn all(answer: &str, r: &Value) -> [f64; 4] {
        let c = calls(answer, r);
        [exact(&c, r), names(&c, r), arguments(&c, r), valid(&c, r)]
    }

    #[test]
    fn a_right_answer_in_any_order_under_api_names_scores_everywhere() {
        let r = reference();
        let answer = r#"[{"name":"weather","arguments":{"city":"san francisco"}},
                         {"name":"math_hypot","arguments":{"x":4,"y":5}}]"#;
        assert_eq!(all(answer, &r), [1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn a_wrong_value_costs_exactness_and_one_argument() {
        let r = reference();
        let answer = r#"[{"name":"math_hypot","arguments":{"x":4,"y":6}},
                         {"name":"weather","arguments":{"city":"SF","unit":"f"}}]"#;
        // Arguments: x, y, z (omitted, allowed), city, unit (wrong): 3 of 5.
        assert_eq!(all(answer, &r), [0.0, 1.0, 3.0 / 5.0, 1.0]);
    }

    #[test]
    fn a_missing_call_and_an_unknown_function() {
        let r = reference();
        let answer = r#"[{"name":"math_hypot","arguments":{"x":4,"y":5}},
                         {"name":"forecast","arguments":{"city":"SF"}}]"#;
        // hypot: x, y, z right (3); weather unmatched: 2 wrong; forecast: 1 wrong.
        assert_eq!(all(answer, &r), [0.0, 0.0, 3.0 / 6.0, 0.0]);
    }

    #[test]
    fn schema_violations_are_invalid() {
        let r = reference();
        let answer = r#"[{"name":"weather","arguments":{"city":"SF","unit":"kelvin"}}]"#;
        assert_eq!(valid(&calls(answer, &r), &r), 0.0);
        let answer = r#"[{"name":"weather","arguments":"{not json"}]"#;
        assert_eq!(valid(&calls(answer, &r), &r), 0.0);
        let answer = r#"[{"name":"weather","arguments":{}}]"#;
        assert_eq!(valid(&calls(answer, &r), &r), 0.0, "city is required");
    }

    #[test]
    fn no_call_expected_is_met_by_words_only() {
        let r = tool_call::reference(vec![json!({"name": "f"})], &json!([])).expect("reference");
        assert_eq!(all("Sorry, none of these functions fits.", &r), [1.0; 4]);
        let answer = r#"[{"name":"f","arguments":{}}]"#;
        assert_eq!(all(answer, &r), [0.0, 0.0, 0.0, 1.0]);
        // And words where a call was expected score nothing but validity.
        assert_eq!(all("It is 6.4.", &reference()), [0.0, 0.0, 0.0, 1.0]);
    }
}
