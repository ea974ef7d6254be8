//! A `tool_call` component end to end against scripted models that answer with calls: BFCL's
//! file pair joined, the row's functions offered under API-safe names with JSON Schema
//! parameters, calls scored BFCL's way, few-shot examples shown as calls, `constrained` asking
//! for a required call, and a cascade escalating an invalid call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rightfit_config::project::{ModelConfig, Project};
use rightfit_providers::{Capabilities, EventStream, Health, Provider, ProviderError};
use rightfit_registry::{BuildError, ProviderFactory};
use rightfit_types::{
    ChatRequest, ChatResponse, Choice, FinishReason, Prompt, Role, Timings, ToolCall, ToolChoice,
    Usage,
};
use serde_json::{Value, json};

use crate::strategies::support::{get, run};

type Answer = Box<dyn Fn(&str) -> Vec<ToolCall> + Send + Sync>;

/// A model that answers the last user message with calls (none: a text answer).
struct Caller {
    name: String,
    answer: Answer,
    log: Arc<Mutex<Vec<(String, ChatRequest)>>>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

#[async_trait]
impl Provider for Caller {
    fn name(&self) -> &str {
        &self.name
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn stream(&self, _: ChatRequest) -> Result<EventStream, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.name.clone(),
            what: "streaming",
        })
    }
    async fn complete(&self, r: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let Prompt::Messages(m) = &r.prompt else {
            panic!("chat prompts only")
        };
        let last = m
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        self.log
            .lock()
            .expect("log")
            .push((self.name.clone(), r.clone()));
        let calls = (self.answer)(&last);
        let (text, finish) = if calls.is_empty() {
            ("No function fits.".to_owned(), FinishReason::Stop)
        } else {
            (String::new(), FinishReason::ToolCalls)
        };
        Ok(ChatResponse {
            id: "r".into(),
            model: self.name.clone(),
            choices: vec![Choice {
                index: 0,
                text,
                tool_calls: calls,
                finish_reason: finish,
                logprobs: None,
            }],
            usage: Usage {
                prompt_tokens: 50,
                completion_tokens: 10,
                cached_prompt_tokens: 0,
            },
            timings: Timings {
                total_ms: 10.0,
                ..Timings::default()
            },
        })
    }
    async fn health(&self) -> Result<Health, ProviderError> {
        Ok(Health {
            ready: true,
            detail: "scripted".into(),
        })
    }
}

#[derive(Default)]
struct Callers {
    models: BTreeMap<String, Arc<Caller>>,
    log: Arc<Mutex<Vec<(String, ChatRequest)>>>,
}

impl Callers {
    fn add(
        mut self,
        name: &str,
        answer: impl Fn(&str) -> Vec<ToolCall> + Send + Sync + 'static,
    ) -> Self {
        let caller = Caller {
            name: name.to_owned(),
            answer: Box::new(answer),
            log: self.log.clone(),
        };
        self.models.insert(name.to_owned(), Arc::new(caller));
        self
    }

    fn requests(&self, model: &str) -> Vec<ChatRequest> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .filter(|(m, _)| m == model)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

#[async_trait]
impl ProviderFactory for Callers {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError> {
        self.models
            .get(&model.name)
            .map(|m| m.clone() as Arc<dyn Provider>)
            .ok_or_else(|| BuildError::Model {
                model: model.name.clone(),
                detail: "no scripted model".to_owned(),
            })
    }
}

fn call(name: &str, arguments: Value) -> ToolCall {
    ToolCall::new("c", name, &arguments)
}

/// BFCL-shaped rows: a dotted function, a parallel pair, a no-call row; and the few-shot row.
fn write_data(dir: &std::path::Path) {
    let factorial = json!({"name": "math.factorial", "description": "n!", "parameters": {
        "type": "dict", "properties": {"number": {"type": "integer"}}, "required": ["number"]}});
    let area = json!({"name": "area", "parameters": {"type": "dict", "properties": {
        "radius": {"type": "float"}, "unit": {"type": "string"}}, "required": ["radius"]}});
    let rows = [
        json!({"id": "q1", "question": [[{"role": "user", "content": "factorial of 5"}]], "function": [factorial]}),
        json!({"id": "q2", "question": [[{"role": "user", "content": "areas of r=2 and r=3"}]], "function": [area]}),
        json!({"id": "q3", "question": [[{"role": "user", "content": "tell me a joke"}]], "function": [factorial]}),
        json!({"id": "s1", "question": [[{"role": "user", "content": "factorial of 3"}]], "function": [factorial]}),
    ];
    let answers = [
        json!({"id": "q1", "ground_truth": [{"math.factorial": {"number": [5]}}]}),
        json!({"id": "q2", "ground_truth": [{"area": {"radius": [2.0], "unit": ["", "cm"]}}, {"area": {"radius": [3.0], "unit": ["", "cm"]}}]}),
        json!({"id": "q3", "ground_truth": []}),
        json!({"id": "s1", "ground_truth": [{"math.factorial": {"number": [3]}}]}),
    ];
    let lines = |v: &[Value]| v.iter().map(|r| format!("{r}\n")).collect::<String>();
    std::fs::write(dir.join("questions.json"), lines(&rows[..3])).expect("write");
    std::fs::write(dir.join("shots.json"), lines(&rows[3..])).expect("write");
    std::fs::write(dir.join("answers.json"), lines(&answers)).expect("write");
}

fn project(dir: &std::path::Path) -> Project {
    write_data(dir);
    let mut models = String::new();
    for m in ["small", "large"] {
        models.push_str(&format!(
            "[models.{m}]\nprovider = \"openai-compatible\"\nbase_url = \"http://localhost:1/v1\"\nmodel = \"{m}\"\nprice = {{ input = 1.0, output = 2.0 }}\n\n"
        ));
    }
    let text = format!(
        r#"{models}
[components.c]
dataset = {{ path = "questions.json", format = "bfcl", answers = "answers.json" }}
reference = "ground_truth"
output = {{ type = "tool_call", tools = "function", messages = "question" }}
few_shot = {{ dataset = {{ path = "shots.json", format = "bfcl", answers = "answers.json" }}, k = 1 }}

[[components.c.candidates]]
model = "small"

[[components.c.candidates]]
model = "large"

[[components.c.candidates]]
name = "shown"
model = "small"
strategy = "few-shot"
k = 1

[[components.c.candidates]]
name = "forced"
model = "small"
constrained = true

[[components.c.candidates]]
name = "escalating"
strategy = "cascade"
stages = ["small/zero-shot", "large/zero-shot"]
confidence = "validator"
threshold = 1.0
"#
    );
    Project::parse(&dir.join("rightfit.toml"), &text).expect("valid project")
}

#[tokio::test]
async fn tool_calls_are_offered_scored_shown_forced_and_escalated() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(dir.path());
    let models = Callers::default()
        // Right on q1 (under the API name), one radius wrong and an int for the float on q2,
        // calls where none fits on q3.
        .add("small", |q| match q {
            "factorial of 5" => vec![call("math_factorial", json!({"number": 5}))],
            "areas of r=2 and r=3" => vec![
                call("area", json!({"radius": 3})),
                call("area", json!({"radius": "two"})),
            ],
            _ => vec![call("math_factorial", json!({"number": 1}))],
        })
        .add("large", |q| match q {
            "areas of r=2 and r=3" => vec![
                call("area", json!({"radius": 3.0, "unit": "CM"})),
                call("area", json!({"radius": 2})),
            ],
            _ => Vec::new(),
        });
    let records = run(&p, &models).await;
    let get = |c: &str, e: &str| get(&records, c, e);
    let scores = |c: &str, e: &str| {
        let r = get(c, e);
        ["tool_exact", "tool_name", "tool_args", "tool_valid"].map(|m| r.scores[m])
    };
    assert_eq!(scores("small/zero-shot", "q1"), [1.0, 1.0, 1.0, 1.0]);
    // q2: radius 3 right (int for float), "two" wrong, both units left out (allowed): 3 of 4.
    assert_eq!(scores("small/zero-shot", "q2"), [0.0, 1.0, 0.75, 0.0]);
    assert_eq!(scores("small/zero-shot", "q3"), [0.0, 0.0, 0.0, 1.0]);
    let q1 = get("small/zero-shot", "q1");
    assert_eq!(
        q1.output.as_deref(),
        Some(r#"[{"arguments":{"number":5},"name":"math_factorial"}]"#)
    );
    assert_eq!(
        q1.parsed,
        Some(json!([{"name": "math.factorial", "arguments": {"number": 5}}]))
    );

    // The row's function is offered under its API name, BFCL's types as JSON Schema.
    let small = models.requests("small");
    let first = small
        .iter()
        .find(|r| r.tool_choice == ToolChoice::Auto && r.tools[0].name == "math_factorial")
        .expect("a zero-shot request for q1");
    assert_eq!(first.tools.len(), 1);
    assert_eq!(first.tools[0].parameters["type"], "object");
    assert_eq!(first.tools[0].description, "n!");
    // Forced: a call is required.
    assert!(small.iter().any(|r| r.tool_choice == ToolChoice::Required));
    // Few-shot: the example's question, its call, a tool result, then the question.
    let shown = small
        .iter()
        .find(|r| match &r.prompt {
            Prompt::Messages(m) => m.len() > 1,
            Prompt::Text(_) => false,
        })
        .expect("a few-shot request");
    let Prompt::Messages(m) = &shown.prompt else {
        panic!("messages")
    };
    let roles: Vec<Role> = m.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::User]);
    assert_eq!(m[0].content, "factorial of 3");
    assert_eq!(m[1].tool_calls[0].name, "math_factorial");
    assert_eq!(
        m[1].tool_calls[0].arguments_json(),
        Some(json!({"number": 3}))
    );
    assert_eq!(
        m[2].tool_call_id.as_deref(),
        Some(m[1].tool_calls[0].id.as_str())
    );

    // The cascade trusts the small model's valid calls and escalates its invalid one.
    let e = |id: &str| {
        let r = get("escalating", id);
        (r.calls, r.scores["tool_exact"])
    };
    assert_eq!(e("q1"), (1, 1.0));
    assert_eq!(e("q2"), (2, 1.0), "q2's \"two\" is not a number: escalated");
    assert_eq!(e("q3"), (1, 0.0), "a valid (if wrong) call is trusted");
}

/// `examples/tools.toml` on BFCL's real files (from `RIGHTFIT_TEST_BFCL`; skipped without it):
/// both components prepare, every row with its functions, conversation and reference, and the
/// first simple_python row is offered under JSON Schema with its dotted-name-free name.
#[test]
fn the_example_prepares_real_bfcl_rows() {
    let Some(bfcl) = std::env::var(rightfit_config::env::TEST_BFCL)
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("skipped: RIGHTFIT_TEST_BFCL is set by scripts/test-tools");
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("examples/tools.toml"))
        .expect("examples/tools.toml")
        .replace("../.rightfit/bfcl", &bfcl);
    let p = Project::parse(&root.join("examples/tools.toml"), &text).expect("the example parses");
    let calls = rightfit_eval::example::prepare(&p.components["calls"], None, 42).expect("calls");
    assert_eq!(calls.examples.len(), 40);
    assert_eq!(calls.shots.len(), 2);
    assert!(calls.skipped.is_empty(), "{:?}", calls.skipped.first());
    for e in &calls.examples {
        assert!(
            e.conversation.as_ref().is_some_and(|c| !c.is_empty()),
            "{}",
            e.id
        );
        assert_eq!(
            e.reference["expected"].as_array().map(Vec::len),
            Some(1),
            "{}",
            e.id
        );
    }
    let none =
        rightfit_eval::example::prepare(&p.components["no_call"], None, 42).expect("no_call");
    assert_eq!(none.examples.len(), 20);
    assert!(
        none.examples
            .iter()
            .all(|e| e.reference["expected"] == json!([]))
    );
    // Every simple_python row's functions become tools APIs accept.
    let all =
        rightfit_eval::example::prepare(&p.components["calls"], Some(10_000), 42).expect("all");
    assert_eq!(all.examples.len() + all.shots.len(), 400);
    for e in &all.examples {
        let tools = rightfit_eval::tool_call::schema::request_tools(
            rightfit_eval::tool_call::offered(&e.reference),
        );
        for t in tools {
            assert!(
                t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{}",
                t.name
            );
            let types = t.parameters.to_string();
            assert!(
                !types.contains("\"dict\"") && !types.contains("\"float\""),
                "{}: {types}",
                e.id
            );
        }
    }
}
