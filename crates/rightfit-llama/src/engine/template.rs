//! Rendering a conversation into the prompt text a model expects.
//!
//! The template comes from, in order: the request (`chat_template`), the file's embedded template,
//! or the engine's fallback (the catalogue names one for models that ship none, such as the Gemma
//! base model). llama.cpp recognises its built-in formats by name or by the shape of a Jinja
//! template; an embedded Jinja template it does not recognise is rendered with `minijinja`.

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use rightfit_types::Message;

use super::backend::builtin_templates;
use super::error::EngineError;

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
