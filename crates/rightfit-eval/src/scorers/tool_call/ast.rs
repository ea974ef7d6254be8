//! The Berkeley Function Calling Leaderboard's AST check (`bfcl_eval/eval_checker/ast_eval/
//! ast_checker.py`, Python language), reproduced verdict for verdict on JSON values.
//!
//! A call matches an expected call when it names the same function, gives every required
//! argument, gives no argument the function or the expected call does not know, gives each
//! argument a value of the declared type (an integer is accepted for a `float`) that is among the
//! allowed values, and leaves out only arguments whose allowed values include `""`. Strings are
//! compared after [`standardize_string`]; lists and dictionaries as BFCL compares them; numbers
//! and booleans with Python's equality (`1 == 1.0 == True`). Calls are matched to expected calls
//! without regard to order, greedily, as BFCL's `parallel_function_checker_no_order` does; its
//! simple and multiple categories are the one-call case of the same check.
//!
//! Beyond BFCL (which fails on them): the JSON Schema types `number` and `object` are read as
//! `float` and `dict`, and an argument of an unknown type never matches.

use serde_json::{Map, Value};

/// The Python type of a JSON value, as `json.loads` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PyType {
    Str,
    Int,
    Float,
    Bool,
    List,
    Dict,
    None,
}

fn py_type(v: &Value) -> PyType {
    match v {
        Value::Null => PyType::None,
        Value::Bool(_) => PyType::Bool,
        Value::Number(n) if n.is_f64() => PyType::Float,
        Value::Number(_) => PyType::Int,
        Value::String(_) => PyType::Str,
        Value::Array(_) => PyType::List,
        Value::Object(_) => PyType::Dict,
    }
}

/// BFCL's `PYTHON_TYPE_MAPPING`, plus `number` and `object`.
fn declared(t: &str) -> Option<PyType> {
    Some(match t {
        "string" | "any" => PyType::Str,
        "integer" => PyType::Int,
        "float" | "number" => PyType::Float,
        "boolean" => PyType::Bool,
        "array" | "tuple" => PyType::List,
        "dict" | "object" => PyType::Dict,
        _ => return None,
    })
}

/// A number (or a boolean, which Python counts as 0 or 1) as a float, for Python's equality.
fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// Python's `==` on values `json.loads` made.
pub(crate) fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if !x.is_f64() && !y.is_f64() => {
            x.as_i64().map(i128::from).or(x.as_u64().map(i128::from))
                == y.as_i64().map(i128::from).or(y.as_u64().map(i128::from))
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| py_eq(p, q)))
        }
        _ => match (numeric(a), numeric(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// Python's `value in list`.
fn py_in(v: &Value, list: &[Value]) -> bool {
    list.iter().any(|x| py_eq(v, x))
}

fn is_empty_marker(v: &Value) -> bool {
    v.as_str() == Some("")
}

/// BFCL's `standardize_string`: drops spaces and `,./-_*^`, lowercases, turns `'` into `"`.
pub fn standardize_string(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^'))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

fn standardized(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(standardize_string(s)),
        other => other.clone(),
    }
}

/// An allowed-values entry as a list (BFCL data always has one; anything else is one value).
fn as_list(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// BFCL's `get_possible_answer_type`: the type of the first allowed value that is not `""`.
fn answer_type(allowed: &[Value]) -> Option<PyType> {
    allowed.iter().find(|a| !is_empty_marker(a)).map(py_type)
}

/// BFCL's `type_checker`: `Some(is_variable)` when the value's type is acceptable.
fn type_check(
    value: &Value,
    allowed: &[Value],
    expected: PyType,
    nested: Option<PyType>,
) -> Option<bool> {
    let answer_type = answer_type(allowed);
    let is_variable = answer_type.is_some_and(|t| t != expected);
    if py_type(value) == expected {
        let Some(nested) = nested else {
            return Some(is_variable);
        };
        let items = value.as_array().map_or(&[][..], Vec::as_slice);
        for candidate in allowed {
            let fits = match candidate {
                Value::Array(inner) => items
                    .iter()
                    .all(|item| type_check(item, inner, nested, None).is_some()),
                _ => true,
            };
            if fits {
                return Some(is_variable);
            }
        }
        // A nested failure stays a failure whatever follows in BFCL.
        return None;
    }
    (answer_type == Some(py_type(value))).then_some(true)
}

/// BFCL's `string_checker`.
fn string_ok(value: &str, allowed: &[Value]) -> bool {
    let v = standardize_string(value);
    allowed
        .iter()
        .filter_map(Value::as_str)
        .any(|a| standardize_string(a) == v)
}

/// BFCL's `list_checker` (an allowed string is iterated by characters, as Python does).
fn list_ok(value: &[Value], allowed: &[Value]) -> bool {
    let v = Value::Array(value.iter().map(standardized).collect());
    allowed.iter().any(|a| {
        let candidate = match a {
            Value::Array(items) => items.iter().map(standardized).collect(),
            Value::String(s) => s
                .chars()
                .map(|c| Value::String(standardize_string(&c.to_string())))
                .collect(),
            _ => return false,
        };
        py_eq(&v, &Value::Array(candidate))
    })
}

/// BFCL's `dict_checker`.
fn dict_ok(value: &Map<String, Value>, allowed: &[Value]) -> bool {
    allowed.iter().any(|a| {
        if is_empty_marker(a) {
            return false;
        }
        let Value::Object(answer) = a else {
            return false;
        };
        let given = value.iter().all(|(k, v)| {
            answer.get(k).is_some_and(|options| {
                let options: Vec<Value> = as_list(options).iter().map(standardized).collect();
                py_in(&standardized(v), &options)
            })
        });
        let missing = answer.iter().any(|(k, options)| {
            !value.contains_key(k) && !py_in(&Value::String(String::new()), as_list(options))
        });
        given && !missing
    })
}

/// BFCL's `list_dict_checker`: the dictionaries in order, each against its place in one answer.
fn list_dict_ok(value: &[Value], allowed: &[Value]) -> bool {
    allowed.iter().any(|a| match a {
        Value::Array(answer) => {
            answer.len() == value.len()
                && value.iter().zip(answer).all(|(v, one)| {
                    v.as_object()
                        .is_some_and(|d| dict_ok(d, std::slice::from_ref(one)))
                })
        }
        // Python's len("") is 0: an empty list matches the "may be omitted" marker.
        Value::String(s) => s.is_empty() && value.is_empty(),
        _ => false,
    })
}

/// Whether one given argument is right: BFCL's per-parameter checks of
/// `simple_function_checker` (type, then value), for a parameter the function declares with
/// `spec` and the expected call allows `allowed` for.
pub(crate) fn argument_ok(spec: &Value, value: &Value, allowed: &[Value]) -> bool {
    let Some(type_name) = spec.get("type").and_then(Value::as_str) else {
        return false;
    };
    let Some(expected) = declared(type_name) else {
        return false;
    };
    let nested = if matches!(type_name, "array" | "tuple") {
        spec.pointer("/items/type")
            .and_then(Value::as_str)
            .and_then(declared)
    } else {
        None
    };
    // Python converts an int to float where a float is declared.
    let converted;
    let value = match (type_name, value) {
        ("float" | "number", Value::Number(n)) if !n.is_f64() => {
            converted = n
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number);
            &converted
        }
        _ => value,
    };
    let Some(is_variable) = type_check(value, allowed, expected, nested) else {
        return false;
    };
    if !is_variable {
        match (expected, value) {
            (PyType::Dict, Value::Object(d)) => return dict_ok(d, allowed),
            (PyType::List, Value::Array(items)) if nested == Some(PyType::Dict) => {
                return list_dict_ok(items, allowed);
            }
            (PyType::Str, Value::String(s)) => return string_ok(s, allowed),
            (PyType::List, Value::Array(items)) => return list_ok(items, allowed),
            _ => {}
        }
    }
    py_in(value, allowed)
}

/// A function's declared parameters and required names (BFCL's `parameters`).
pub(crate) fn parameters(function: &Value) -> (Option<&Map<String, Value>>, Vec<&str>) {
    let properties = function
        .pointer("/parameters/properties")
        .and_then(Value::as_object);
    let required = function
        .pointer("/parameters/required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    (properties, required)
}

/// BFCL's `simple_function_checker`: one call (`name`, parsed `arguments`) against one expected
/// call (`expected`: argument -> allowed values) of `function`.
pub(crate) fn call_ok(
    function: &Value,
    name: &str,
    arguments: &Map<String, Value>,
    expected: &Map<String, Value>,
) -> bool {
    if function.get("name").and_then(Value::as_str) != Some(name) {
        return false;
    }
    let (properties, required) = parameters(function);
    if required.iter().any(|r| !arguments.contains_key(*r)) {
        return false;
    }
    for (param, value) in arguments {
        let (Some(spec), Some(allowed)) =
            (properties.and_then(|p| p.get(param)), expected.get(param))
        else {
            return false;
        };
        if !argument_ok(spec, value, as_list(allowed)) {
            return false;
        }
    }
    expected.iter().all(|(param, allowed)| {
        arguments.contains_key(param) || py_in(&Value::String(String::new()), as_list(allowed))
    })
}

/// One expected call: the function's name and its arguments' allowed values.
pub(crate) type Expected<'a> = (&'a str, &'a Map<String, Value>);

/// One call the model made: the name and the arguments, `None` when they are not a JSON object.
pub(crate) type Given<'a> = (&'a str, Option<&'a Map<String, Value>>);

/// BFCL's `parallel_function_checker_no_order` (and, with one expected call, its simple and
/// multiple checks): as many calls as expected, each expected call matched by the first unused
/// call that passes [`call_ok`]. `functions` are the offered functions' declarations.
pub(crate) fn calls_ok(
    functions: &[Value],
    given: &[Given<'_>],
    expected: &[Expected<'_>],
) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let mut used = vec![false; given.len()];
    for (name, allowed) in expected {
        let Some(function) = find(functions, name) else {
            return false;
        };
        let hit = given.iter().enumerate().position(|(i, (called, args))| {
            !used[i] && args.is_some_and(|a| call_ok(function, called, a, allowed))
        });
        match hit {
            Some(i) => used[i] = true,
            None => return false,
        }
    }
    true
}

/// The declaration of `name` among `functions`.
pub(crate) fn find<'a>(functions: &'a [Value], name: &str) -> Option<&'a Value> {
    functions
        .iter()
        .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
}
