//! `rightfit keys create | list | revoke`: the gateway's keys, in the project's store.

use super::common::store_for;
use super::output::{json, line};
use crate::args::{KeysCommand, ListFormat};
use crate::errors::user;

pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create {
            project,
            name,
            requests_per_minute,
            budget_usd,
        } => {
            let made = rightfit_store::new_key(
                &name,
                requests_per_minute,
                budget_usd,
                rightfit_config::time::now_rfc3339(),
            )
            .map_err(user)?;
            let store = store_for(&project).await?;
            store.put_key(&made.key).await.map_err(user)?;
            line(format!(
                "created gateway key '{}' ({}) in {}",
                made.key.name,
                made.key.id,
                store.location().display()
            ))?;
            line(made.secret.expose())?;
            line("Keep this secret now: it cannot be shown again (only its hash is stored).")
        }
        KeysCommand::List { project, format } => {
            let keys = store_for(&project).await?.keys().await?;
            if format == ListFormat::Json {
                return json(&serde_json::to_value(&keys)?);
            }
            line(rightfit_report::keys_terminal(&keys).trim_end())
        }
        KeysCommand::Revoke { project, key } => {
            let store = store_for(&project).await?;
            // An id first, then a name: as the store resolves it.
            let keys = store.keys().await?;
            let before = keys
                .iter()
                .find(|k| k.id == key)
                .or_else(|| keys.iter().find(|k| k.name == key));
            if let Some(revoked_at) = before.and_then(|k| k.revoked_at.as_deref()) {
                return line(format!(
                    "gateway key '{key}' was already revoked at {revoked_at}"
                ));
            }
            if !store.revoke_key(&key).await? {
                return Err(user(anyhow::anyhow!(
                    "no gateway key '{key}' in {} — see 'rightfit keys list'",
                    store.location().display()
                )));
            }
            line(format!("revoked gateway key '{key}'"))
        }
    }
}
