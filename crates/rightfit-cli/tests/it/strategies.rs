//! Strategies end to end on a real local model (SmolLM2-135M): every strategy evaluated through
//! `rightfit eval`, its records checked for the calls and steps it made, the lift table, and
//! `rightfit cascade calibrate` on the stored run.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::eval::shared_data;
use super::{home_with_model, rightfit, stderr, stdout};

const CANDIDATES: &str = r#"
[[components.sentiment.candidates]]
model = "smollm2"

[[components.sentiment.candidates]]
model = "smollm2"
strategy = "loglikelihood"

[[components.sentiment.candidates]]
model = "smollm2"
strategy = "self-consistency"
samples = 3

[[components.sentiment.candidates]]
model = "smollm2"
strategy = "chain-of-thought"
max_tokens = 32

[[components.sentiment.candidates]]
model = "smollm2"
strategy = "reflection"
max_tokens = 6

[[components.sentiment.candidates]]
model = "smollm2"
strategy = "few-shot"
k = 2
select = "similar"

[[components.sentiment.candidates]]
strategy = "cascade"
stages = ["smollm2/loglikelihood", "smollm2/zero-shot"]
threshold = 0.3
"#;

fn project(dir: &Path) -> std::path::PathBuf {
    let data = shared_data().join("poem_sentiment");
    let text = format!(
        r#"
[project]
store = "runs.db"

[models.smollm2]
provider = "local"
model = "smollm2-135m"
context_size = 4096
parallel = 4

[components.sentiment]
system = "You label the sentiment of a line of poetry. Answer with one word: negative, positive or no_impact."
prompt = "Line: {{{{ text }}}}\nSentiment:"
dataset = {{ path = "{test}", columns = ["id", "text", "label"], id = "id" }}
reference = "label"
output = {{ type = "label", labels = ["negative", "no_impact", "positive", "mixed"], map = {{ "-1" = "negative", "0" = "no_impact", "1" = "positive", "2" = "mixed" }} }}
max_tokens = 6
few_shot = {{ k = 2, dataset = {{ path = "{train}", columns = ["id", "text", "label"], id = "id" }}, pool = 16 }}
baseline = "smollm2/zero-shot"
{CANDIDATES}"#,
        test = data.join("test.tsv").display(),
        train = data.join("train.tsv").display(),
    );
    let path = dir.join("rightfit.toml");
    std::fs::write(&path, text).expect("project");
    path
}

/// Every record of the run, by candidate then example id.
fn records(home: &Path, config: &str, run: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
    let o = rightfit(home, &["runs", "export", "-c", config, run]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for line in stdout(&o).lines() {
        let r: Value = serde_json::from_str(line).expect("a JSON record");
        let candidate = r["candidate"].as_str().expect("candidate").to_owned();
        let id = r["example_id"].as_str().expect("id").to_owned();
        out.entry(candidate).or_default().insert(id, r);
    }
    out
}

/// `rightfit cascade calibrate` of `small` against the zero-shot candidate.
fn calibrate(home: &Path, config: &str, small: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "cascade",
        "calibrate",
        "-c",
        config,
        "--component",
        "sentiment",
        "--small",
        small,
        "--large",
        "smollm2/zero-shot",
    ];
    args.extend_from_slice(extra);
    rightfit(home, &args)
}

fn kinds(r: &Value) -> Vec<String> {
    r["steps"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| s["kind"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_strategy_runs_on_a_real_model_and_a_cascade_is_calibrated_smollm2() {
    let home = home_with_model();
    let dir = tempfile::tempdir().expect("dir");
    let config = project(dir.path());
    let config = config.to_str().expect("utf-8");
    let o = rightfit(home.path(), &["eval", "-c", config, "--limit", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("lift against smollm2/zero-shot"), "{out}");
    let run = out
        .split_whitespace()
        .skip_while(|w| *w != "run")
        .nth(1)
        .expect("the run id in the report title")
        .to_owned();
    let all = records(home.path(), config, &run);
    assert_eq!(all.len(), 7, "{:?}", all.keys());
    for (candidate, rs) in &all {
        assert_eq!(rs.len(), 8, "{candidate}");
        for r in rs.values() {
            assert!(r["error"].is_null(), "{candidate}: {r}");
        }
    }
    let ll = &all["smollm2/loglikelihood"];
    let zero = &all["smollm2/zero-shot"];
    for r in ll.values() {
        let c = r["confidence"].as_f64().expect("a label margin");
        assert!((0.0..=1.0).contains(&c), "{r}");
        assert_eq!(r["calls"], 1);
    }
    for r in all["smollm2/self-consistency-3"].values() {
        assert_eq!(r["calls"], 3);
        assert_eq!(kinds(r), ["sample", "sample", "sample"]);
        let c = r["confidence"].as_f64().expect("agreement");
        let thirds = c * 3.0;
        assert!(
            (thirds - thirds.round()).abs() < 1e-9,
            "a share of 3 votes: {c}"
        );
    }
    for r in all["smollm2/chain-of-thought"].values() {
        assert_eq!(kinds(r), ["reasoning"], "{r}");
        // The answer recorded is the extracted line, never the whole reasoning.
        let raw = r["steps"][0]["output"].as_str().unwrap_or("");
        let answer = r["output"].as_str().unwrap_or("");
        assert!(!answer.contains('\n'), "{answer:?}");
        assert!(raw.contains(answer.trim()), "{raw:?} vs {answer:?}");
    }
    for r in all["smollm2/reflection-1"].values() {
        let k = kinds(r);
        assert_eq!(&k[..2], ["draft", "critique"], "{r}");
        let calls = r["calls"].as_u64().unwrap_or(0);
        assert_eq!(calls as usize, k.len());
        assert!(calls == 2 || calls == 3, "{r}");
    }
    for r in all["smollm2/few-shot-similar-2"].values() {
        assert_eq!(kinds(r)[0], "select-shots");
        assert_eq!(r["calls"], 2, "one embedding, one answer");
        let chosen = r["steps"][0]["output"].as_str().unwrap_or("");
        assert_eq!(chosen.matches(',').count(), 1, "two examples: {chosen}");
    }
    // The cascade keeps the log-likelihood answer when its margin reaches 0.3, else it asks the
    // zero-shot candidate; both are deterministic, so the outputs must match theirs.
    let cascade = &all["cascade:smollm2/loglikelihood>smollm2/zero-shot"];
    for (id, r) in cascade {
        let margin = ll[id]["confidence"].as_f64().expect("margin");
        assert!((r["confidence"].as_f64().expect("confidence") - margin).abs() < 1e-9);
        let (calls, from) = if margin >= 0.3 { (1, ll) } else { (2, zero) };
        assert_eq!(r["calls"], calls, "{id}: margin {margin}");
        assert_eq!(r["output"], from[id]["output"], "{id}: margin {margin}");
    }
    // Calibration replays the same margins: at threshold 0 nothing is escalated and quality is
    // the log-likelihood candidate's; escalating all gives the zero-shot candidate's.
    let o = calibrate(
        home.path(),
        config,
        "smollm2/loglikelihood",
        &["--target", "0.9", "--format", "json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cal: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(cal["paired"], 8);
    assert_eq!(cal["dev_n"], 4);
    let curve = cal["curve"].as_array().expect("curve");
    assert_eq!(curve[0]["threshold"], 0.0);
    assert_eq!(curve[0]["escalated"], 0.0);
    let last = curve.last().expect("a last point");
    assert_eq!(last["escalated"], 1.0);
    assert!(
        (last["quality"].as_f64().unwrap_or(-1.0)
            - cal["large_dev_quality"].as_f64().unwrap_or(-2.0))
        .abs()
            < 1e-12
    );
    assert!(
        (curve[0]["quality"].as_f64().unwrap_or(-1.0)
            - cal["small_dev_quality"].as_f64().unwrap_or(-2.0))
        .abs()
            < 1e-12
    );
    // The table form says what to add to the project, or why nothing reaches the target.
    let o = calibrate(home.path(), config, "smollm2/loglikelihood", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    // Whichever way the model's margins fall, it ends with one of the four verdicts.
    let verdicts = [
        "strategy = \"cascade\"",
        "no threshold reaches",
        "no cascade is needed",
        "only escalating everything",
    ];
    assert_eq!(
        verdicts.iter().filter(|v| text.contains(*v)).count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("← chosen") || text.contains("no threshold reaches"),
        "{text}"
    );
    // A candidate with no records is a clear user error.
    let o = calibrate(home.path(), config, "nobody", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("records of candidate 'nobody'"),
        "{}",
        stderr(&o)
    );
}
