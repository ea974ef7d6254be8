//! Rendering a component's prompt for an example under a strategy.

use minijinja::{Environment, UndefinedBehavior};
use rightfit_config::project::{Candidate, Component, OutputContract, Strategy};
use rightfit_types::{
    ChatRequest, LoglikelihoodRequest, Message, Prompt, ResponseFormat, Role, Sampling, ToolChoice,
};
use serde_json::{Value, json};

use crate::example::{Example, answer_text};
use crate::tool_call;

/// The component's templates, compiled once.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    has_system: bool,
    /// A `tool_call` contract: shots answer with calls, requests offer the example's functions.
    tool_calls: bool,
}

/// One call a strategy makes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Call {
    /// A generation.
    Chat(ChatRequest),
    /// Log-likelihoods of the labels.
    Loglikelihood(LoglikelihoodRequest),
}

impl Call {
    /// What is recorded as the example's input.
    pub fn input(&self) -> Value {
        match self {
            Call::Chat(r) => match &r.prompt {
                Prompt::Messages(m) => json!({ "messages": m }),
                Prompt::Text(t) => json!({ "text": t }),
            },
            Call::Loglikelihood(r) => {
                json!({ "context": r.context, "continuations": r.continuations })
            }
        }
    }
}

impl Templates {
    /// Compiles the prompt and system templates (already checked when the config was loaded).
    pub fn new(c: &Component) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template_owned("prompt", c.prompt.clone())
            .map_err(|e| format!("prompt template: {e}"))?;
        if let Some(system) = &c.system {
            env.add_template_owned("system", system.clone())
                .map_err(|e| format!("system template: {e}"))?;
        }
        Ok(Self {
            env,
            has_system: c.system.is_some(),
            tool_calls: matches!(c.output, OutputContract::ToolCall { .. }),
        })
    }

    fn render(&self, name: &str, vars: &Value) -> Result<String, String> {
        let t = self.env.get_template(name).map_err(|e| e.to_string())?;
        t.render(vars).map_err(|e| {
            let mut msg = format!("{name} template: {e}");
            if let Some(detail) = e.detail() {
                msg = format!("{name} template: {detail}");
            }
            msg
        })
    }

    /// The messages for an example: system, the few-shot turns, the prompt. An application's
    /// own conversation keeps its system messages first, then the few-shot turns, then the rest
    /// of it as sent.
    pub fn messages(&self, shots: &[Example], example: &Example) -> Result<Vec<Message>, String> {
        let mut messages = Vec::with_capacity(2 + 2 * shots.len());
        let conversation = example.conversation.as_deref();
        let lead = conversation.map_or(0, |c| {
            c.iter().take_while(|m| m.role == Role::System).count()
        });
        match conversation {
            Some(c) => messages.extend_from_slice(&c[..lead]),
            None if self.has_system => {
                // A system template that renders empty (`{{ system }}` over a row without
                // one, as exported traffic has) sends no system message.
                let system = self.render("system", &example.vars)?;
                if !system.trim().is_empty() {
                    messages.push(Message::system(system));
                }
            }
            None => {}
        }
        for shot in shots {
            if self.tool_calls {
                self.tool_shot(shot, &mut messages)?;
                continue;
            }
            messages.push(Message::user(self.render("prompt", &shot.vars)?));
            messages.push(Message::assistant(answer_text(&shot.reference)));
        }
        match conversation {
            Some(c) => messages.extend_from_slice(&c[lead..]),
            None => messages.push(Message::user(self.render("prompt", &example.vars)?)),
        }
        Ok(messages)
    }

    /// A `tool_call` few-shot example as turns: its conversation (without system messages) or
    /// its rendered prompt, then the assistant's expected calls, each answered by a tool turn
    /// (which APIs require after calls; its content says the result is not shown), or, when no
    /// call is expected, an assistant turn saying no function fits.
    fn tool_shot(&self, shot: &Example, messages: &mut Vec<Message>) -> Result<(), String> {
        match &shot.conversation {
            Some(c) => messages.extend(c.iter().filter(|m| m.role != Role::System).cloned()),
            None => messages.push(Message::user(self.render("prompt", &shot.vars)?)),
        }
        let calls = tool_call::shot_calls(&shot.reference);
        if calls.is_empty() {
            messages.push(Message::assistant(NO_FITTING_TOOL));
            return Ok(());
        }
        let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
        messages.push(Message::assistant_calls("", calls));
        for id in ids {
            messages.push(Message::tool_result(id, SHOT_RESULT));
        }
        Ok(())
    }

    /// The system prompt and the user prompt rendered for an example (what a critic or a
    /// verifier is shown as the task). For an application's conversation: its system messages
    /// and its last user message.
    pub fn task(&self, example: &Example) -> Result<(Option<String>, String), String> {
        if let Some(c) = &example.conversation {
            let system: Vec<&str> = c
                .iter()
                .filter(|m| m.role == Role::System)
                .map(|m| m.content.as_str())
                .collect();
            let prompt = c
                .iter()
                .rev()
                .find(|m| m.role == Role::User)
                .map(|m| m.content.clone())
                .ok_or("the conversation has no user message")?;
            return Ok(((!system.is_empty()).then(|| system.join("\n\n")), prompt));
        }
        let system = if self.has_system {
            Some(self.render("system", &example.vars)?).filter(|s| !s.trim().is_empty())
        } else {
            None
        };
        Ok((system, self.render("prompt", &example.vars)?))
    }

    /// The call a candidate makes for an example, showing `shots` (already chosen for it).
    /// `local`: the model runs in the embedded engine (grammars) rather than behind an API
    /// (JSON Schema `response_format`).
    pub fn call(
        &self,
        c: &Component,
        candidate: &Candidate,
        shots: &[Example],
        example: &Example,
        local: bool,
    ) -> Result<Call, String> {
        if candidate.strategy == Strategy::Loglikelihood {
            let OutputContract::Label { labels, .. } = &c.output else {
                return Err("loglikelihood needs a label contract".into());
            };
            let (system, prompt) = self.task(example)?;
            let mut context = String::new();
            if let Some(system) = system {
                context.push_str(&system);
                context.push_str("\n\n");
            }
            // Examples as completed prompts, the way a base model has seen text.
            for shot in shots {
                context.push_str(self.render("prompt", &shot.vars)?.trim_end());
                context.push(' ');
                context.push_str(&answer_text(&shot.reference));
                context.push_str("\n\n");
            }
            context.push_str(prompt.trim_end());
            return Ok(Call::Loglikelihood(LoglikelihoodRequest {
                model: String::new(),
                context,
                continuations: labels.iter().map(|l| format!(" {l}")).collect(),
                normalize: candidate.normalize,
            }));
        }
        let mut messages = self.messages(shots, example)?;
        if candidate.reason {
            if let Some(last) = messages.last_mut() {
                last.content
                    .push_str(&reasoning_instruction(&candidate.answer_prefix));
            }
            // The examples show the answer line the reasoning must end with.
            let prefix = &candidate.answer_prefix;
            for m in messages.iter_mut().filter(|m| m.role == Role::Assistant) {
                m.content = format!("{prefix} {}", m.content);
            }
        }
        let mut request = ChatRequest::chat(messages);
        if self.tool_calls {
            // Constrained: a call is required (a local model's grammar allows only calls).
            let choice = if candidate.constrained {
                ToolChoice::Required
            } else {
                ToolChoice::Auto
            };
            let tools = tool_call::schema::request_tools(tool_call::offered(&example.reference));
            request = request.with_tools(tools, choice);
        }
        request.max_tokens = Some(candidate.max_tokens);
        request.logprobs = candidate.token_confidence.map(|_| 0);
        request.sampling = Sampling {
            temperature: candidate.temperature,
            top_p: candidate.top_p,
            seed: candidate.seed,
            ..Sampling::default()
        };
        if matches!(c.output, OutputContract::Label { .. }) && !candidate.reason {
            request.stop = vec!["\n".to_owned()];
        }
        if candidate.constrained {
            request.response_format = match &c.output {
                // APIs take JSON Schemas with an object at the root.
                OutputContract::Label { labels, .. } if !local => ResponseFormat::JsonSchema {
                    name: c.name.clone(),
                    schema: json!({
                        "type": "object",
                        "properties": { "label": { "type": "string", "enum": labels } },
                        "required": ["label"],
                        "additionalProperties": false,
                    }),
                    strict: true,
                },
                OutputContract::Label { labels, .. } => {
                    let alternatives: Vec<String> = labels
                        .iter()
                        .map(|l| serde_json::to_string(l).unwrap_or_default())
                        .collect();
                    ResponseFormat::Grammar {
                        gbnf: format!("root ::= {}", alternatives.join(" | ")),
                    }
                }
                OutputContract::Json {
                    schema: Some(schema),
                } => ResponseFormat::JsonSchema {
                    name: c.name.clone(),
                    schema: schema.clone(),
                    strict: true,
                },
                OutputContract::Json { schema: None } => ResponseFormat::JsonObject,
                OutputContract::Spans { slots } => {
                    let props: serde_json::Map<String, Value> = slots
                        .iter()
                        .map(|s| (s.clone(), json!({"type": ["string", "null"]})))
                        .collect();
                    ResponseFormat::JsonSchema {
                        name: c.name.clone(),
                        schema: json!({"type": "object", "properties": props, "additionalProperties": false}),
                        strict: true,
                    }
                }
                OutputContract::Text { .. } | OutputContract::ToolCall { .. } => {
                    ResponseFormat::Text
                }
            };
        }
        Ok(Call::Chat(request))
    }
}

/// What a `tool_call` few-shot example answers when no call is expected.
pub const NO_FITTING_TOOL: &str = "None of the available functions fits this request.";

/// The tool result a `tool_call` few-shot example shows after its calls.
pub const SHOT_RESULT: &str = "(an example: the result is not shown)";

/// What a reasoning candidate is asked to do after the prompt.
pub fn reasoning_instruction(answer_prefix: &str) -> String {
    format!(
        "\n\nThink step by step. Then give the final answer alone on a last line that starts \
         with \"{answer_prefix}\"."
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rightfit_config::project::Project;
    use serde_json::json;

    use super::*;

    fn component(system: &str) -> (Component, Candidate) {
        let text = format!(
            r#"
[models.m]
provider = "openai-compatible"
base_url = "http://127.0.0.1:1/v1"
model = "m"

[components.c]
system = "{system}"
prompt = "Q: {{{{ q }}}}"
dataset = {{ path = "d.jsonl" }}
reference = "a"
output = {{ type = "text" }}
metrics = ["exact_match"]
few_shot = {{ k = 1 }}

[[components.c.candidates]]
model = "m"
strategy = "few-shot"
k = 1
"#
        );
        let p = Project::parse(Path::new("/nowhere/rightfit.toml"), &text).expect("valid");
        let c = p.components["c"].clone();
        let cand = c.candidates[0].clone();
        (c, cand)
    }

    fn shot() -> Example {
        Example {
            id: "s".into(),
            line: 1,
            vars: json!({"q": "1+1"}),
            reference: json!("2"),
            conversation: None,
        }
    }

    #[test]
    fn a_conversation_is_sent_as_is_with_the_shots_after_its_system_messages() {
        let (c, cand) = component("Be exact.");
        let t = Templates::new(&c).expect("templates");
        let conversation = vec![
            Message::system("Client system."),
            Message::user("Hello"),
            Message::assistant("Hi"),
            Message::user("Q: 2+2"),
        ];
        let e = Example::from_conversation("r", conversation);
        let m = t.messages(&[shot()], &e).expect("messages");
        let pairs: Vec<(Role, &str)> = m.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            pairs,
            [
                (Role::System, "Client system."),
                (Role::User, "Q: 1+1"),
                (Role::Assistant, "2"),
                (Role::User, "Hello"),
                (Role::Assistant, "Hi"),
                (Role::User, "Q: 2+2"),
            ]
        );
        let (system, prompt) = t.task(&e).expect("task");
        assert_eq!(system.as_deref(), Some("Client system."));
        assert_eq!(prompt, "Q: 2+2");
        let Call::Chat(r) = t.call(&c, &cand, &[], &e, false).expect("call") else {
            panic!("a chat call");
        };
        assert_eq!(
            r.prompt,
            Prompt::Messages(e.conversation.clone().expect("conversation"))
        );
    }

    #[test]
    fn a_system_template_that_renders_empty_sends_no_system_message() {
        let (c, _) = component("{{ system }}");
        let t = Templates::new(&c).expect("templates");
        let mut e = shot();
        e.vars = json!({"q": "3+3", "system": ""});
        let m = t.messages(&[], &e).expect("messages");
        assert_eq!(m, [Message::user("Q: 3+3")]);
        e.vars = json!({"q": "3+3", "system": "S"});
        assert_eq!(
            t.messages(&[], &e).expect("messages")[0],
            Message::system("S")
        );
        assert_eq!(t.task(&e).expect("task").0.as_deref(), Some("S"));
    }
}
