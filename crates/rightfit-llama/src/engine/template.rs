//! Rendering a conversation into the prompt text a model expects.
//!
//! The template comes from, in order: the request (`chat_template`), the file's embedded template,
//! or the engine's fallback (the catalogue names one for models that ship none, such as the Gemma
//! base model). llama.cpp recognises its built-in formats by name or by the shape of a Jinja
//! template; an embedded Jinja template it does not recognise is rendered with `minijinja`.

//!
//! A conversation with tools, calls or tool results goes through [`ChatFormat::render_tools`]:
//! an embedded Jinja template that knows tools renders them itself (with `minijinja`); any
//! other template gets them in the Hermes format written into plain turns (see `tools::prompt`).
//! A plain conversation renders exactly as before.

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use rightfit_types::{Message, Tool};

use super::backend::builtin_templates;
use super::error::EngineError;
use super::tools::prompt;

/// Where templates come from for one model.
#[derive(Debug, Clone)]
pub(crate) struct ChatFormat {
    pub(crate) embedded: Option<String>,
    pub(crate) fallback: Option<String>,
    pub(crate) bos: String,
    pub(crate) eos: String,
}

impl ChatFormat {
    /// Renders `messages`, ending with the opening of the assistant's turn.
    pub(crate) fn render(
        &self,
        model: &LlamaModel,
        messages: &[Message],
        requested: Option<&str>,
    ) -> Result<String, EngineError> {
        self.render_as(model, messages, requested, true)
    }

    /// Renders a conversation that may offer `tools` or carry calls and tool results, ending
    /// with the opening of the assistant's turn. Without tools, calls or results this is
    /// [`ChatFormat::render`], byte for byte.
    pub(crate) fn render_tools(
        &self,
        model: &LlamaModel,
        messages: &[Message],
        requested: Option<&str>,
        tools: &[Tool],
    ) -> Result<String, EngineError> {
        if tools.is_empty() && messages.iter().all(Message::is_plain) {
            return self.render(model, messages, requested);
        }
        if requested.is_none()
            && let Some(source) = &self.embedded
            && prompt::template_supports_tools(source)
        {
            return self.render_jinja_tools(source, messages, tools);
        }
        self.render(model, &prompt::hermes_messages(messages, tools), requested)
    }

    /// The prompt for `messages` (as [`ChatFormat::render`] gives it) and the text the template
    /// puts after it for the assistant's turn `answer`, closing the turn (`Paris<|im_end|>\n`):
    /// what a model fine-tuned on this turn must learn to generate.
    pub(crate) fn render_turn(
        &self,
        model: &LlamaModel,
        messages: &[Message],
        answer: &str,
        requested: Option<&str>,
    ) -> Result<(String, String), EngineError> {
        let prompt = self.render_as(model, messages, requested, true)?;
        let mut whole = messages.to_vec();
        whole.push(Message::assistant(answer));
        let full = self.render_as(model, &whole, requested, false)?;
        match full.strip_prefix(&prompt) {
            Some(turn) if turn.starts_with(answer) => Ok((prompt, turn.to_owned())),
            _ => Err(EngineError::Template(
                "the chat template renders an answered conversation differently from the prompt \
                 it generates from, so the answer's tokens cannot be told apart"
                    .to_owned(),
            )),
        }
    }

    fn render_as(
        &self,
        model: &LlamaModel,
        messages: &[Message],
        requested: Option<&str>,
        add_assistant: bool,
    ) -> Result<String, EngineError> {
        if messages.is_empty() {
            return Err(EngineError::InvalidRequest(
                "a chat request needs at least one message".to_owned(),
            ));
        }
        let (source, is_embedded) = match (requested, &self.embedded, &self.fallback) {
            (Some(name), _, _) => (name.to_owned(), false),
            (None, Some(embedded), _) => (embedded.clone(), true),
            (None, None, Some(fallback)) => (fallback.clone(), false),
            (None, None, None) => {
                return Err(EngineError::Template(format!(
                    "this model embeds no chat template; name one of llama.cpp's built-in templates \
                     ({}) or send raw text (completion)",
                    builtin_templates().join(", ")
                )));
            }
        };
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_owned(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::InvalidRequest(format!("message text: {e}")))?;
        let template = LlamaChatTemplate::new(&source)
            .map_err(|e| EngineError::Template(format!("template text: {e}")))?;
        match model.apply_chat_template(&template, &chat, add_assistant) {
            Ok(text) => Ok(text),
            Err(_) if is_embedded => self.render_jinja(&source, messages, add_assistant),
            Err(e) => Err(EngineError::Template(format!(
                "'{source}' is not a template llama.cpp knows ({e}); built-in names are: {}",
                builtin_templates().join(", ")
            ))),
        }
    }

    fn render_jinja(
        &self,
        source: &str,
        messages: &[Message],
        add_assistant: bool,
    ) -> Result<String, EngineError> {
        let env = jinja_environment();
        let tmpl = env
            .template_from_str(source)
            .map_err(|e| EngineError::Template(format!("embedded Jinja template: {e}")))?;
        let messages: Vec<_> = messages
            .iter()
            .map(|m| minijinja::context! { role => m.role.as_str(), content => m.content })
            .collect();
        tmpl.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => add_assistant,
            bos_token => self.bos,
            eos_token => self.eos,
        })
        .map_err(|e| EngineError::Template(format!("embedded Jinja template: {e}")))
    }
}

impl ChatFormat {
    /// Renders with a Jinja template that knows tools, passing tools and messages as
    /// transformers does (and its `tojson`: Python's separators, non-ASCII kept).
    fn render_jinja_tools(
        &self,
        source: &str,
        messages: &[Message],
        tools: &[Tool],
    ) -> Result<String, EngineError> {
        let mut env = jinja_environment();
        env.add_filter("tojson", python_tojson);
        let tmpl = env
            .template_from_str(source)
            .map_err(|e| EngineError::Template(format!("embedded Jinja template: {e}")))?;
        let tools = if tools.is_empty() {
            minijinja::Value::from(())
        } else {
            minijinja::Value::from_serialize(prompt::tools_value(tools))
        };
        tmpl.render(minijinja::context! {
            messages => minijinja::Value::from_serialize(prompt::messages_value(messages)),
            tools => tools,
            add_generation_prompt => true,
            bos_token => self.bos,
            eos_token => self.eos,
        })
        .map_err(|e| EngineError::Template(format!("embedded Jinja template with tools: {e}")))
    }
}

/// A `minijinja` environment with what Hugging Face chat templates use (Python string methods,
/// `raise_exception`).
fn jinja_environment<'s>() -> minijinja::Environment<'s> {
    let mut env = minijinja::Environment::new();
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                msg,
            ))
        },
    );
    env
}

/// `tojson` as transformers defines it for chat templates (`json.dumps`, `ensure_ascii=False`).
fn python_tojson(
    value: minijinja::Value,
    kwargs: minijinja::value::Kwargs,
) -> Result<minijinja::Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    // Accepted and ignored, as their defaults are what is written anyway.
    let _: Option<minijinja::Value> = kwargs.get("ensure_ascii")?;
    let _: Option<minijinja::Value> = kwargs.get("sort_keys")?;
    let _: Option<minijinja::Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value).map_err(|e| {
        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
    })?;
    Ok(minijinja::Value::from_safe_string(prompt::python_json(
        &json, indent,
    )))
}
