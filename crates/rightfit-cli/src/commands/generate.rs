//! `rightfit chat | complete | embed | loglik`: talk to a model (`chat` and `embed` to hosted
//! ones too).

use std::io::{BufRead, IsTerminal, Read};
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use rightfit_config::Settings;
use rightfit_config::output_format::response_format;
use rightfit_llama::{Engine, EngineOptions};
use rightfit_providers::Provider;
use rightfit_registry::ModelRegistry;
use rightfit_types::{
    ChatRequest, EmbeddingRequest, LoglikelihoodRequest, Message, Sampling, StreamEvent, Timings,
    Usage,
};

use super::output::{self, line, note, stream};
use crate::args::{
    ChatArgs, CompleteArgs, EmbedArgs, EngineArgs, HostedArgs, LoglikArgs, SamplingArgs,
};
use crate::errors::user;
use rightfit_report::progress::spinner;

/// The engine options `--ctx` and `--batch-invariant` set, then `tune`'s.
fn engine_tune(
    args: &EngineArgs,
    tune: impl Fn(&mut EngineOptions) + Send + Sync,
) -> impl Fn(&mut EngineOptions) + Send + Sync {
    let (ctx, batch_invariant) = (args.ctx, args.batch_invariant);
    move |o: &mut EngineOptions| {
        o.context_size = ctx.unwrap_or(0);
        o.batch_invariant = batch_invariant;
        tune(o);
    }
}

/// Resolves the model and loads it through the registry, with a spinner.
pub async fn load_engine(
    settings: &Settings,
    args: &EngineArgs,
    tune: impl Fn(&mut EngineOptions) + Send + Sync,
) -> anyhow::Result<(String, Engine)> {
    let registry = ModelRegistry::new(settings);
    let tune = engine_tune(args, tune);
    let name = registry
        .files()
        .resolve(&args.model)
        .map_or_else(|_| args.model.clone(), |r| r.name);
    let bar = spinner(&format!("loading {name}"));
    let loaded = registry.load(&args.model, &tune).await.map_err(user)?;
    bar.finish_and_clear();
    Ok((loaded.name, loaded.engine))
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the prompt from stdin")?;
    Ok(text)
}

fn build_request(prompt: rightfit_types::Prompt, s: &SamplingArgs) -> anyhow::Result<ChatRequest> {
    let response_format = response_format(s.json_schema.as_deref(), s.grammar.as_deref());
    let response_format = response_format.map_err(user)?;
    let mut req = match prompt {
        rightfit_types::Prompt::Messages(m) => ChatRequest::chat(m),
        rightfit_types::Prompt::Text(t) => ChatRequest::completion(t),
    };
    req = req
        .with_max_tokens(s.max_tokens)
        .with_stop(s.stop.iter().cloned())
        .with_response_format(response_format)
        .with_sampling(Sampling {
            temperature: (s.temperature > 0.0).then_some(s.temperature),
            top_p: s.top_p,
            top_k: s.top_k,
            seed: s.seed,
        });
    req.logprobs = s.logprobs;
    Ok(req)
}

/// Streams one answer to stdout; returns its text.
async fn stream_answer(
    provider: &dyn Provider,
    request: ChatRequest,
    timings: bool,
) -> anyhow::Result<String> {
    let mut events = provider.stream(request).await.map_err(user)?;
    let mut text = String::new();
    let mut done: Option<(Usage, Timings)> = None;
    let mut logprobs = Vec::new();
    while let Some(event) = events.next().await {
        match event.map_err(user)? {
            StreamEvent::Delta { text: t, .. } => {
                stream(&t)?;
                text.push_str(&t);
            }
            StreamEvent::Logprobs { tokens, .. } => logprobs.extend(tokens),
            StreamEvent::ToolCall { .. } | StreamEvent::Finish { .. } => {}
            StreamEvent::Done { usage, timings } => done = Some((usage, timings)),
        }
    }
    stream("\n")?;
    if !logprobs.is_empty() {
        note(rightfit_report::logprobs_terminal(&logprobs));
    }
    if timings && let Some((u, t)) = done {
        note(rightfit_report::timings_line(&u, &t));
    }
    Ok(text)
}

/// The model `--model` names (for `chat` and `embed`), built by the registry
/// (`ModelRegistry::named`): one named in a project file, a hosted one, or a local one.
async fn model_provider(
    settings: &Settings,
    engine: &EngineArgs,
    args: &HostedArgs,
) -> anyhow::Result<Arc<dyn Provider>> {
    let project = match &args.config {
        Some(path) => Some((path.as_path(), super::project::load(path)?)),
        None => None,
    };
    let project = project.as_ref().map(|(path, p)| (*path, p));
    let (base_url, key_env) = (args.base_url.as_deref(), args.api_key_env.as_deref());
    let tune = engine_tune(engine, |_| {});
    let bar = spinner(&format!("loading {}", engine.model));
    let registry = ModelRegistry::new(settings);
    let built = registry.named(&engine.model, project, base_url, key_env, &tune);
    let provider = built.await.map_err(user)?;
    bar.finish_and_clear();
    Ok(provider)
}

pub async fn chat(settings: &Settings, args: ChatArgs) -> anyhow::Result<()> {
    let provider = model_provider(settings, &args.engine, &args.hosted).await?;
    let provider = provider.as_ref();
    let mut history: Vec<Message> = args.system.iter().map(Message::system).collect();
    let request = |history: &[Message]| -> anyhow::Result<ChatRequest> {
        let mut r = build_request(
            rightfit_types::Prompt::Messages(history.to_vec()),
            &args.sampling,
        )?;
        r.chat_template.clone_from(&args.template);
        Ok(r)
    };
    if let Some(prompt) = &args.prompt {
        history.push(Message::user(prompt));
        stream_answer(provider, request(&history)?, args.sampling.timings).await?;
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        history.push(Message::user(read_stdin()?.trim_end()));
        stream_answer(provider, request(&history)?, args.sampling.timings).await?;
        return Ok(());
    }
    note(format!(
        "chatting with {} — an empty line or Ctrl-D ends the conversation",
        provider.name()
    ));
    let mut lines = stdin.lock().lines();
    loop {
        #[allow(clippy::print_stderr)]
        {
            eprint!("> ");
        }
        let Some(input) = lines.next() else { break };
        let input = input.context("reading stdin")?;
        if input.trim().is_empty() {
            break;
        }
        history.push(Message::user(input));
        let answer = stream_answer(provider, request(&history)?, args.sampling.timings).await?;
        history.push(Message::assistant(answer));
    }
    Ok(())
}

/// A local model as a provider, built by the registry, with a spinner.
async fn local_provider(
    settings: &Settings,
    args: &EngineArgs,
) -> anyhow::Result<Arc<dyn Provider>> {
    let bar = spinner(&format!("loading {}", args.model));
    let registry = ModelRegistry::new(settings);
    let provider = registry
        .local_file(&args.model, &engine_tune(args, |_| {}))
        .await;
    bar.finish_and_clear();
    provider.map_err(user)
}

pub async fn complete(settings: &Settings, args: CompleteArgs) -> anyhow::Result<()> {
    let provider = local_provider(settings, &args.engine).await?;
    let prompt = match args.prompt {
        Some(p) => p,
        None => read_stdin()?,
    };
    stream(&prompt)?;
    let request = build_request(rightfit_types::Prompt::Text(prompt), &args.sampling)?;
    stream_answer(provider.as_ref(), request, args.sampling.timings).await?;
    Ok(())
}

pub async fn embed(settings: &Settings, args: EmbedArgs) -> anyhow::Result<()> {
    let texts = if args.texts.is_empty() {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<Vec<_>, _>>()
            .context("reading stdin")?
    } else {
        args.texts
    };
    let provider = model_provider(settings, &args.engine, &args.hosted).await?;
    let request = EmbeddingRequest::new(texts, !args.no_normalize);
    let r = provider.embed(request).await.map_err(user)?;
    for v in r.embeddings {
        line(serde_json::to_string(&v)?)?;
    }
    Ok(())
}

pub async fn loglik(settings: &Settings, args: LoglikArgs) -> anyhow::Result<()> {
    let provider = local_provider(settings, &args.engine).await?;
    let request = LoglikelihoodRequest::new(args.context, args.continuations.clone());
    let r = provider.loglikelihood(request).await.map_err(user)?;
    if args.json {
        return output::json(&rightfit_report::loglik_json(&r, &args.continuations));
    }
    line(rightfit_report::loglik_terminal(&r, &args.continuations).trim_end())
}
