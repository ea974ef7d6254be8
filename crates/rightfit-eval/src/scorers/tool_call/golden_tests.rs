//! `tool_exact` against BFCL's own checker, case by case.
//!
//! Model outputs are built from real BFCL rows (simple_python, multiple, parallel,
//! parallel_multiple, irrelevance): the ground truth's first allowed values, then variations
//! (wrong value, missing optional, missing required, extra argument, wrong type, int for float,
//! reordered parallel calls, string normalisation, wrong name, wrong count). Each is checked by
//! `bfcl_eval/eval_checker/ast_eval/ast_checker.py` from the pinned wheel (`scripts/bfcl-data`,
//! `RIGHTFIT_TEST_BFCL`) run by `RIGHTFIT_TEST_PYTHON`, and by [`super::exact`] on the canonical
//! answer text, and the verdicts must agree. Skipped (with a note) when either is not set.
//!
//! The checker imports `constants.model_config`, which pulls in every model handler; a stub
//! module with only `MODEL_CONFIG_MAPPING` stands in (the checker reads nothing else from it,
//! only `underscore_to_dot` in `convert_func_name`, false here: the outputs use the declared
//! names, which is what rightfit scores after reading API names back). Irrelevance rows have no
//! AST check in BFCL: a row passes when the model made no call, which the script states as such.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::tool_call;

const SCRIPT: &str = r#"
import json, sys, types
root, cases_path = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
stub = types.ModuleType("bfcl_eval.constants.model_config")
stub.MODEL_CONFIG_MAPPING = {"rightfit/golden": types.SimpleNamespace(underscore_to_dot=False)}
sys.modules["bfcl_eval.constants.model_config"] = stub
from bfcl_eval.constants.enums import Language
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
out = []
for case in json.load(open(cases_path)):
    calls = [{c["name"]: c["arguments"]} for c in case["calls"]]
    if case["category"] == "irrelevance":
        out.append(len(calls) == 0)
        continue
    r = ast_checker(case["functions"], calls, case["ground_truth"], Language.PYTHON,
                    case["category"], "rightfit_golden")
    out.append(bool(r["valid"]))
print(json.dumps(out))
"#;

/// Changes one argument of the first call (function name, argument, arguments, allowed values);
/// false when it does not apply to that argument.
type Edit<'a> = dyn Fn(&str, &str, &mut serde_json::Map<String, Value>, &Value) -> bool + 'a;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn rows(root: &std::path::Path, file: &str, answers: bool) -> Vec<(Value, Value)> {
    let data = root.join("bfcl_eval/data");
    let read = |p: PathBuf| -> Vec<Value> {
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let questions = read(data.join(file));
    let truths = if answers {
        read(data.join("possible_answer").join(file))
    } else {
        Vec::new()
    };
    questions
        .into_iter()
        .map(|q| {
            let gt = truths
                .iter()
                .find(|t| t["id"] == q["id"])
                .map_or(json!([]), |t| t["ground_truth"].clone());
            (q["function"].clone(), gt)
        })
        .collect()
}

/// The first allowed value of each argument that has one (BFCL's "" marks an omissible one).
fn first_values(allowed: &Value) -> serde_json::Map<String, Value> {
    allowed
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, options)| {
            let first = options
                .as_array()?
                .iter()
                .find(|o| o.as_str() != Some(""))?;
            Some((k.clone(), first.clone()))
        })
        .collect()
}

fn param_type<'a>(functions: &'a Value, name: &str, arg: &str) -> &'a str {
    functions
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["parameters"]["properties"][arg]["type"].as_str())
        .unwrap_or("")
}

/// A variation of the right answer: the calls as `[{name, arguments}]`.
fn variations(functions: &Value, gt: &Value) -> Vec<(&'static str, Vec<Value>)> {
    let truth: Vec<(String, serde_json::Map<String, Value>, Value)> = gt
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let (name, allowed) = c.as_object().unwrap().iter().next().unwrap();
            (name.clone(), first_values(allowed), allowed.clone())
        })
        .collect();
    let calls = |t: &[(String, serde_json::Map<String, Value>, Value)]| -> Vec<Value> {
        t.iter()
            .map(|(n, a, _)| json!({"name": n, "arguments": a}))
            .collect()
    };
    let mut out = vec![("right", calls(&truth))];
    if truth.is_empty() {
        out.push((
            "a call where none fits",
            vec![json!({"name": functions[0]["name"], "arguments": {}})],
        ));
        return out;
    }
    let mut edit = |label: &'static str, f: &Edit<'_>| {
        let mut t = truth.clone();
        let mut changed = false;
        if let Some((name, args, allowed)) = t.first_mut() {
            let keys: Vec<String> = allowed.as_object().unwrap().keys().cloned().collect();
            for k in keys {
                if f(name, &k, args, &allowed[&k]) {
                    changed = true;
                    break;
                }
            }
        }
        if changed {
            out.push((label, calls(&t)));
        }
    };
    edit("wrong value", &|_, k, args, _| match args.get(k).cloned() {
        Some(Value::Number(n)) if n.is_f64() => {
            args.insert(k.into(), json!(n.as_f64().unwrap() + 1000.5));
            true
        }
        Some(Value::Number(n)) => {
            args.insert(k.into(), json!(n.as_i64().unwrap_or(0) + 1000));
            true
        }
        Some(Value::String(_)) => {
            args.insert(k.into(), json!("zzz qqq"));
            true
        }
        Some(Value::Bool(b)) => {
            args.insert(k.into(), json!(!b));
            true
        }
        _ => false,
    });
    edit("missing optional", &|_, k, args, allowed| {
        let omissible = allowed.as_array().is_some_and(|a| a.contains(&json!("")));
        omissible && args.remove(k).is_some()
    });
    edit("optional given", &|_, k, args, allowed| {
        let a = allowed.as_array().unwrap();
        match (a.first(), a.iter().find(|o| o.as_str() != Some(""))) {
            (Some(first), Some(v)) if first.as_str() == Some("") && !args.contains_key(k) => {
                args.insert(k.into(), v.clone());
                true
            }
            _ => false,
        }
    });
    edit("missing required", &|_, k, args, allowed| {
        let omissible = allowed.as_array().is_some_and(|a| a.contains(&json!("")));
        !omissible && args.remove(k).is_some()
    });
    edit("extra argument", &|_, _, args, _| {
        args.insert("unexpected_extra".into(), json!(1));
        true
    });
    edit(
        "number as text",
        &|_, k, args, _| match args.get(k).cloned() {
            Some(Value::Number(n)) => {
                args.insert(k.into(), json!(n.to_string()));
                true
            }
            _ => false,
        },
    );
    edit("text as number", &|_, k, args, _| match args.get(k) {
        Some(Value::String(_)) => {
            args.insert(k.into(), json!(7));
            true
        }
        _ => false,
    });
    edit(
        "int for float",
        &|name, k, args, _| match args.get(k).cloned() {
            Some(Value::Number(n))
                if param_type(functions, name, k) == "float"
                    && n.as_f64().is_some_and(|f| f.fract() == 0.0) =>
            {
                args.insert(k.into(), json!(n.as_f64().unwrap() as i64));
                true
            }
            _ => false,
        },
    );
    edit(
        "float for int",
        &|name, k, args, _| match args.get(k).cloned() {
            Some(Value::Number(n)) if param_type(functions, name, k) == "integer" => {
                let float = serde_json::Number::from_f64(n.as_f64().unwrap()).unwrap();
                args.insert(k.into(), Value::Number(float));
                true
            }
            _ => false,
        },
    );
    edit(
        "string normalised",
        &|_, k, args, _| match args.get(k).cloned() {
            Some(Value::String(s)) if !s.is_empty() => {
                let shouted: String = s.to_uppercase().replace(' ', "_").replace(", ", " , ");
                args.insert(k.into(), json!(format!("{shouted}.")));
                true
            }
            _ => false,
        },
    );
    edit(
        "list reordered",
        &|_, k, args, _| match args.get(k).cloned() {
            Some(Value::Array(mut items)) if items.len() > 1 => {
                items.reverse();
                args.insert(k.into(), Value::Array(items));
                true
            }
            _ => false,
        },
    );
    let mut renamed = truth.clone();
    renamed[0].0 = format!("{}_other", renamed[0].0);
    out.push(("wrong name", calls(&renamed)));
    let mut reversed = calls(&truth);
    if reversed.len() > 1 {
        reversed.reverse();
        out.push(("parallel reordered", reversed));
    }
    let mut doubled = calls(&truth);
    doubled.push(doubled[0].clone());
    out.push(("one call too many", doubled));
    out.push(("no call", Vec::new()));
    out
}

#[test]
fn tool_exact_agrees_with_bfcls_ast_checker_case_by_case() {
    let (Some(root), Some(python)) = (
        env(rightfit_config::env::TEST_BFCL),
        env(rightfit_config::env::TEST_PYTHON),
    ) else {
        eprintln!(
            "skipped: RIGHTFIT_TEST_BFCL and RIGHTFIT_TEST_PYTHON are set by scripts/test-tools"
        );
        return;
    };
    let root = PathBuf::from(root);
    let sets = [
        ("simple_python", "BFCL_v4_simple_python.json", true, 40),
        ("multiple", "BFCL_v4_multiple.json", true, 10),
        ("parallel", "BFCL_v4_parallel.json", true, 10),
        (
            "parallel_multiple",
            "BFCL_v4_parallel_multiple.json",
            true,
            8,
        ),
        ("irrelevance", "BFCL_v4_irrelevance.json", false, 4),
    ];
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    let mut labels = Vec::new();
    for (category, file, answers, take) in sets {
        for (functions, gt) in rows(&root, file, answers).into_iter().take(take) {
            let reference =
                tool_call::reference(functions.as_array().unwrap().clone(), &gt).unwrap();
            for (label, calls) in variations(&functions, &gt) {
                let answer = Value::Array(calls.clone()).to_string();
                let parsed = super::calls(&answer, &reference);
                ours.push(super::exact(&parsed, &reference) == 1.0);
                labels.push(format!("{category} {label}: {answer}"));
                cases.push(json!({
                    "category": category, "functions": functions, "ground_truth": gt, "calls": calls,
                }));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_string(&cases).unwrap()).unwrap();
    let out = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&root)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "BFCL's checker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), ours.len());
    let disagreements: Vec<String> = labels
        .iter()
        .zip(ours.iter().zip(&theirs))
        .filter(|(_, (a, b))| a != b)
        .map(|(l, (a, b))| format!("ours {a}, BFCL {b}: {l}"))
        .collect();
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        ours.len(),
        disagreements.join("\n")
    );
    // The cases exercise both verdicts and every variation kind.
    let valid = theirs.iter().filter(|v| **v).count();
    assert!(
        valid > 60 && theirs.len() - valid > 100,
        "{valid} of {} valid",
        theirs.len()
    );
    for kind in [
        "int for float",
        "string normalised",
        "parallel reordered",
        "missing optional",
        "extra argument",
    ] {
        assert!(labels.iter().any(|l| l.contains(kind)), "no '{kind}' case");
    }
    eprintln!("{} cases, {valid} valid by BFCL, all agree", ours.len());
}
