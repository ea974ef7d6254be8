//! A model's vocabulary without its weights: llama.cpp loads a GGUF file's tokenizer and chat
//! template alone (`vocab_only`), which is enough to tokenise, detokenise and render chat prompts
//! exactly as the engine does for the full model. llama.cpp's vocabulary-only test files
//! (`ggml-vocab-*.gguf`) are such files; a full model file loads the same way, without reading
//! its tensors.
//!
//! Token ids are checked before they reach llama.cpp: an id outside the vocabulary would abort
//! the process inside C++ code.

use std::fmt;
use std::path::{Path, PathBuf};

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::Message;

use crate::engine::{ChatFormat, EngineError, shared_backend};
use crate::gguf;

/// A GGUF file's tokenizer and chat template, loaded without weights.
pub struct Vocabulary {
    path: PathBuf,
    model: LlamaModel,
    format: ChatFormat,
    size: u32,
}

impl fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vocabulary")
            .field("path", &self.path)
            .field("tokens", &self.size)
            .finish()
    }
}

impl Vocabulary {
    /// Loads the tokenizer (and chat template) of the GGUF file at `path`.
    ///
    /// The header is read first, so a missing, empty, truncated or foreign file, and a GGUF file
    /// without a tokenizer, are errors that name the file.
    pub fn load(path: &Path) -> Result<Self, EngineError> {
        let header = gguf::read_header(path)?;
        if header.get_str("tokenizer.ggml.model").is_none() {
            return Err(EngineError::Model(format!(
                "{}: no tokenizer in this GGUF file (tokenizer.ggml.model is missing)",
                path.display()
            )));
        }
        let load_err = |detail: String| EngineError::Load {
            path: path.to_owned(),
            detail,
        };
        let backend = shared_backend().map_err(load_err)?;
        let params = LlamaModelParams::default().with_vocab_only(true);
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|e| {
            load_err(format!(
                "{e} (run with RIGHTFIT_LOG=debug for llama.cpp's reasons)"
            ))
        })?;
        let size = u32::try_from(model.vocab().n_tokens()).unwrap_or(0);
        if size == 0 {
            return Err(EngineError::Model(format!(
                "{}: the vocabulary is empty",
                path.display()
            )));
        }
        let format = {
            let vocab = model.vocab();
            let piece = |t: LlamaToken| {
                String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned()
            };
            ChatFormat {
                embedded: model
                    .chat_template(None)
                    .ok()
                    .and_then(|t| t.to_string().ok()),
                fallback: None,
                bos: piece(vocab.bos()),
                eos: piece(vocab.eos()),
            }
        };
        Ok(Self {
            path: path.to_owned(),
            model,
            format,
            size,
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many tokens the vocabulary holds.
    pub fn token_count(&self) -> u32 {
        self.size
    }

    /// The beginning-of-sequence token.
    pub fn bos(&self) -> u32 {
        self.model.vocab().bos().0.unsigned_abs()
    }

    /// The end-of-sequence token.
    pub fn eos(&self) -> u32 {
        self.model.vocab().eos().0.unsigned_abs()
    }

    /// Whether tokenising with `add_special` starts with [`Vocabulary::bos`].
    pub fn adds_bos(&self) -> bool {
        self.model.vocab().should_add_bos()
    }

    /// The chat template the file embeds, if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.format.embedded.as_deref()
    }

    /// The token ids of `text`, as llama.cpp's `llama_tokenize` gives them: `add_special` adds
    /// the BOS (and EOS) tokens the model asks for; `parse_special` reads special tokens written
    /// in the text (`<|end|>`) as themselves rather than as plain characters.
    pub fn tokenize(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, EngineError> {
        if i32::try_from(text.len()).is_err() {
            return Err(EngineError::InvalidRequest(format!(
                "a text of {} bytes is too long to tokenise",
                text.len()
            )));
        }
        Ok(self
            .model
            .vocab()
            .tokenize(text.as_bytes(), add_special, parse_special)
            .iter()
            .map(|t| t.0.unsigned_abs())
            .collect())
    }

    /// The bytes `tokens` stand for, as llama.cpp's `llama_detokenize` gives them:
    /// `remove_special` drops a leading BOS and a trailing EOS the model adds itself;
    /// `unparse_special` writes special tokens out as their text (`<|end|>`) instead of nothing.
    /// Bytes, not text: a run of byte tokens may end inside a UTF-8 character.
    pub fn detokenize_bytes(
        &self,
        tokens: &[u32],
        remove_special: bool,
        unparse_special: bool,
    ) -> Result<Vec<u8>, EngineError> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let ids = tokens
            .iter()
            .map(|&t| self.checked(t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .model
            .vocab()
            .detokenize(&ids, remove_special, unparse_special))
    }

    /// Like [`Vocabulary::detokenize_bytes`], for tokens that make whole UTF-8 text.
    pub fn detokenize(
        &self,
        tokens: &[u32],
        remove_special: bool,
        unparse_special: bool,
    ) -> Result<String, EngineError> {
        let bytes = self.detokenize_bytes(tokens, remove_special, unparse_special)?;
        String::from_utf8(bytes).map_err(|e| {
            EngineError::InvalidRequest(format!(
                "the tokens do not make UTF-8 text (byte {} of {} is not): detokenise them as bytes",
                e.utf8_error().valid_up_to(),
                e.as_bytes().len()
            ))
        })
    }

    /// The prompt the engine would build for `messages`, ending with the opening of the
    /// assistant's turn: rendered with `template` (one of llama.cpp's built-in names, such as
    /// `phi3` or `mistral-v3`, or a Jinja template llama.cpp recognises), else with the file's
    /// own template; an embedded Jinja template llama.cpp does not recognise is rendered with
    /// `minijinja`, as in the engine.
    pub fn render_chat(
        &self,
        messages: &[Message],
        template: Option<&str>,
    ) -> Result<String, EngineError> {
        self.format.render(&self.model, messages, template)
    }

    /// Like [`Vocabulary::render_chat`], for a conversation that offers `tools` or carries tool
    /// calls and results, rendered as the engine renders it (see the engine's tool calling).
    pub fn render_chat_with_tools(
        &self,
        messages: &[Message],
        tools: &[rightfit_types::Tool],
        template: Option<&str>,
    ) -> Result<String, EngineError> {
        self.format
            .render_tools(&self.model, messages, template, tools)
    }

    fn checked(&self, token: u32) -> Result<LlamaToken, EngineError> {
        match i32::try_from(token) {
            Ok(id) if token < self.size => Ok(LlamaToken(id)),
            _ => Err(EngineError::InvalidRequest(format!(
                "token id {token} is not in the vocabulary of {} ({} tokens)",
                self.path.display(),
                self.size
            ))),
        }
    }
}
