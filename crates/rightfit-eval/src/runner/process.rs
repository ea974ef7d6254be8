//! Which process a run belongs to, so a run whose process died is not shown as running for ever.
//!
//! A run records, in `meta.process`, the id of the process working on it: its pid, when it
//! started (the kernel's start time in clock ticks since boot, so a reused pid is told apart),
//! the boot it ran in and the host. A `running` run whose process is gone from this machine is
//! [`settle`]d to `interrupted` (what finished is kept; `eval --resume` continues it). A run
//! from another host, or one written before runs recorded their process, is left as it is:
//! nothing here can tell whether it still runs. A run split into shards records each shard's
//! process in `meta.shards.seen` instead; it is alive while one of its running shards is.

use rightfit_store::RunStore;
use rightfit_types::{RunInfo, RunStatus};
use serde_json::{Value, json};

use super::options::EvalError;

/// This process, as `meta.process` records it; `None` where `/proc` cannot tell (not Linux).
pub(super) fn this_process() -> Option<Value> {
    let pid = std::process::id();
    Some(json!({
        "pid": pid,
        "start_ticks": start_ticks(pid)?,
        "boot_id": boot_id()?,
        "host": host()?,
    }))
}

/// Whether the process recorded in `meta.process` is alive: `Some(false)` when it is surely
/// gone (same host, and another boot, no such pid, or a pid now used by a later process);
/// `None` when this machine cannot tell (another host, no record, no `/proc`).
pub(super) fn alive(run: &RunInfo) -> Option<bool> {
    if let Some(seen) = run.meta["shards"]["seen"].as_object() {
        let mut unknown = false;
        for shard in seen.values().filter(|s| s["state"] == "running") {
            match process_alive(&shard["process"]) {
                Some(true) => return Some(true),
                Some(false) => {}
                None => unknown = true,
            }
        }
        return if unknown { None } else { Some(false) };
    }
    process_alive(run.meta.get("process")?)
}

/// [`alive`] for one recorded process (`meta.process`, or a shard's).
pub(super) fn process_alive(p: &Value) -> Option<bool> {
    if p.get("host")?.as_str()? != host()? {
        return None;
    }
    if p.get("boot_id")?.as_str()? != boot_id()? {
        return Some(false);
    }
    let pid = u32::try_from(p.get("pid")?.as_u64()?).ok()?;
    let recorded = p.get("start_ticks")?.as_u64()?;
    Some(start_ticks(pid) == Some(recorded))
}

/// Marks every `running` run whose process is gone ([`alive`] says `Some(false)`) as
/// `interrupted`, with the reason in `meta.interrupted`; returns the runs it changed.
/// `runs` is what the caller is about to show or resume.
pub async fn settle(store: &dyn RunStore, runs: &mut [RunInfo]) -> Result<Vec<String>, EvalError> {
    let mut changed = Vec::new();
    for run in runs.iter_mut() {
        if run.status != RunStatus::Running || alive(run) != Some(false) {
            continue;
        }
        let pid = run.meta["process"]["pid"].as_u64().unwrap_or_default();
        let why = if run.meta["shards"].is_object() {
            "the processes that ran its shards ended without finishing it".to_owned()
        } else {
            format!("the process that ran it (pid {pid}) ended without finishing it")
        };
        run.status = RunStatus::Interrupted;
        let seen = run.meta.get_mut("shards").and_then(|s| s.get_mut("seen"));
        for shard in seen
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|s| s.values_mut())
        {
            if let Some(shard) = shard.as_object_mut().filter(|s| s["state"] == "running") {
                shard.insert("state".to_owned(), json!("interrupted"));
            }
        }
        if let Some(meta) = run.meta.as_object_mut() {
            meta.insert("interrupted".to_owned(), json!(why));
        }
        store.update_run(run).await?;
        changed.push(run.id.clone());
    }
    Ok(changed)
}

/// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned())
}

fn host() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(process: Option<Value>) -> RunInfo {
        RunInfo {
            id: "r".into(),
            component: "c".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            status: RunStatus::Running,
            config_hash: "h".into(),
            dataset: "d".into(),
            rows_used: 1,
            rows_skipped: 0,
            limit: None,
            seed: 1,
            meta: process.map_or_else(|| json!({}), |p| json!({ "process": p })),
        }
    }

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_not() {
        let me = this_process().expect("Linux has /proc");
        assert_eq!(alive(&run_of(Some(me.clone()))), Some(true));

        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        let ticks = start_ticks(pid);
        child.wait().expect("wait");
        let mut gone = me.clone();
        gone["pid"] = json!(pid);
        gone["start_ticks"] = json!(ticks.unwrap_or(1));
        assert_eq!(alive(&run_of(Some(gone))), Some(false));

        // Our pid, but a start time of another process: the pid was reused.
        let mut reused = me.clone();
        reused["start_ticks"] = json!(me["start_ticks"].as_u64().unwrap() + 1);
        assert_eq!(alive(&run_of(Some(reused))), Some(false));

        let mut rebooted = me.clone();
        rebooted["boot_id"] = json!("another boot");
        assert_eq!(alive(&run_of(Some(rebooted))), Some(false));

        let mut elsewhere = me.clone();
        elsewhere["host"] = json!("another-host.example");
        assert_eq!(alive(&run_of(Some(elsewhere.clone()))), None);
        assert_eq!(alive(&run_of(None)), None);

        // A run split into shards: alive while one of its running shards is.
        let sharded = |seen: Value| {
            let mut run = run_of(None);
            run.meta = json!({ "shards": { "count": 3, "seen": seen } });
            run
        };
        let (done, dead) = (json!("done"), json!("running"));
        let gone_entry = json!({ "state": dead, "process": rebooted_of(&me) });
        assert_eq!(
            alive(&sharded(json!({
                "1": { "state": done, "process": me },
                "2": gone_entry,
            }))),
            Some(false),
            "a finished shard's process does not keep the run alive"
        );
        assert_eq!(
            alive(&sharded(json!({
                "1": gone_entry,
                "2": { "state": "running", "process": me },
            }))),
            Some(true)
        );
        assert_eq!(
            alive(&sharded(json!({
                "1": gone_entry,
                "3": { "state": "running", "process": elsewhere },
            }))),
            None,
            "a shard on another host may still run"
        );
    }

    fn rebooted_of(me: &Value) -> Value {
        let mut p = me.clone();
        p["boot_id"] = json!("another boot");
        p
    }
}
