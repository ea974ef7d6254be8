//! Tool calling on the embedded engine.
//!
//! A request's tools reach the model through its chat template ([`prompt`]); its calls are
//! constrained by a grammar built from the tools' JSON Schemas ([`grammar`]); and the generated
//! text is read back into calls ([`output`]). [`ToolPlan`] decides, per request, which of these
//! apply:
//!
//! | `tool_choice` | tools in the prompt | grammar | calls read back |
//! |---|---|---|---|
//! | `auto` | all | lazy: free text, and once `<tool_call>` (or, opening the answer, a bare `{"name": "f",`, fenced or not) is written, a valid call | yes |
//! | `required` | all | from the first token: one or more calls to any tool | yes |
//! | `function` | all | from the first token: calls to that function only | yes |
//! | `none` | none | none (or the request's `response_format`) | no |
//!
//! A request's own `response_format` cannot be combined with tools the model may call (one
//! grammar constrains a sequence); such a request is refused.

use std::sync::Arc;

use rightfit_types::{ChatRequest, Prompt, ResponseFormat, Tool, ToolChoice};

use super::error::EngineError;
use super::sampling::Constraint;

pub(crate) mod bare;
pub(crate) mod grammar;
pub(crate) mod output;
pub(crate) mod prompt;

/// What a request's tools change about its prompt, its decoding and its output.
#[derive(Debug, Default)]
pub(crate) struct ToolPlan {
    /// The tools shown to the model (empty: none).
    pub(crate) offered: Vec<Tool>,
    /// The grammar of calls, when the model may call.
    pub(crate) constraint: Option<Constraint>,
    /// The functions whose calls are read back from the output (`None`: plain text).
    pub(crate) callable: Option<Arc<[String]>>,
}

impl ToolPlan {
    /// Checks a request's tools and works out its plan.
    pub(crate) fn new(request: &ChatRequest) -> Result<Self, EngineError> {
        let invalid = |m: String| Err(EngineError::InvalidRequest(m));
        if let Prompt::Messages(messages) = &request.prompt
            && messages.iter().any(|m| !m.images.is_empty())
        {
            return invalid(
                "this model is run by the embedded engine, which does not take images; \
                 send text only or route the request to a model that takes images"
                    .to_owned(),
            );
        }
        if request.tools.is_empty() {
            return match &request.tool_choice {
                ToolChoice::Auto | ToolChoice::None => Ok(Self::default()),
                choice => invalid(format!(
                    "tool_choice is {choice:?} but the request declares no tools"
                )),
            };
        }
        for (i, tool) in request.tools.iter().enumerate() {
            if tool.name.is_empty() {
                return invalid(format!("tools[{i}] has an empty name"));
            }
            if request.tools[..i].iter().any(|t| t.name == tool.name) {
                return invalid(format!(
                    "tools[{i}]: the function '{}' is declared twice",
                    tool.name
                ));
            }
        }
        if request.tool_choice == ToolChoice::None {
            return Ok(Self::default());
        }
        if matches!(request.prompt, Prompt::Text(_)) {
            return invalid(
                "tools need a chat request (messages): a raw-text prompt has no template to \
                 offer them through"
                    .to_owned(),
            );
        }
        if request.response_format != ResponseFormat::Text {
            return invalid(
                "response_format cannot be combined with tools on the embedded engine (one \
                 grammar constrains the output); drop one, or set tool_choice to none"
                    .to_owned(),
            );
        }
        let (callable, lazy): (Vec<&Tool>, bool) = match &request.tool_choice {
            ToolChoice::Function(name) => match request.tools.iter().find(|t| t.name == *name) {
                Some(tool) => (vec![tool], false),
                None => {
                    return invalid(format!(
                        "tool_choice names the function '{name}', which is not among the \
                         request's tools ({})",
                        names(&request.tools)
                    ));
                }
            },
            ToolChoice::Required => (request.tools.iter().collect(), false),
            ToolChoice::Auto | ToolChoice::None => (request.tools.iter().collect(), true),
        };
        let parallel = request.parallel_tool_calls.unwrap_or(true);
        let gbnf = grammar::calls_grammar(&callable, parallel)?;
        let lazy = lazy.then(|| grammar::lazy_triggers(&callable));
        Ok(Self {
            offered: request.tools.clone(),
            constraint: Some(Constraint::Tools { gbnf, lazy }),
            callable: Some(callable.iter().map(|t| t.name.clone()).collect()),
        })
    }
}

fn names(tools: &[Tool]) -> String {
    tools
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rightfit_types::Message;
    use serde_json::json;

    fn request(choice: ToolChoice) -> ChatRequest {
        ChatRequest::chat(vec![Message::user("Weather in Paris?")]).with_tools(
            vec![
                Tool::function("get_weather", "", json!({"type": "object"})),
                Tool::function("add", "", json!({"type": "dict"})),
            ],
            choice,
        )
    }

    #[test]
    fn each_tool_choice_gets_its_plan() {
        let auto = ToolPlan::new(&request(ToolChoice::Auto)).expect("plan");
        assert!(matches!(
            auto.constraint,
            Some(Constraint::Tools { lazy: Some(_), .. })
        ));
        assert_eq!(auto.offered.len(), 2);
        let required = ToolPlan::new(&request(ToolChoice::Required)).expect("plan");
        assert!(matches!(
            required.constraint,
            Some(Constraint::Tools { lazy: None, .. })
        ));
        let named = ToolPlan::new(&request(ToolChoice::Function("add".into()))).expect("plan");
        assert_eq!(named.callable.as_deref(), Some(&["add".to_owned()][..]));
        assert_eq!(named.offered.len(), 2);
        let none = ToolPlan::new(&request(ToolChoice::None)).expect("plan");
        assert!(none.offered.is_empty() && none.constraint.is_none() && none.callable.is_none());
        let plain = ToolPlan::new(&ChatRequest::chat(vec![Message::user("hi")])).expect("plan");
        assert!(plain.offered.is_empty() && plain.constraint.is_none());
    }

    #[test]
    fn impossible_requests_are_refused_with_the_reason() {
        let refused = |r: ChatRequest| match ToolPlan::new(&r) {
            Err(EngineError::InvalidRequest(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused(request(ToolChoice::Function("launch".into()))).contains("launch"));
        let both = request(ToolChoice::Auto).with_response_format(ResponseFormat::JsonObject);
        assert!(refused(both).contains("response_format"));
        let mut no_tools = request(ToolChoice::Required);
        no_tools.tools.clear();
        assert!(refused(no_tools).contains("no tools"));
        let mut twice = request(ToolChoice::Auto);
        twice.tools.push(twice.tools[0].clone());
        assert!(refused(twice).contains("twice"));
        let mut text = request(ToolChoice::Auto);
        text.prompt = Prompt::Text("hi".into());
        assert!(refused(text).contains("raw-text"));
    }
}
