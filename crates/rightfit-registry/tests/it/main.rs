//! The registry builds every kind of model and shares loaded engines. Tests that load a real
//! model read SmolLM2-135M from `RIGHTFIT_TEST_MODEL` (scripts/test sets it).

use std::path::{Path, PathBuf};

use rightfit_config::project::Project;
use rightfit_config::{Overrides, Settings};
use rightfit_registry::{BuildError, ModelRegistry, ProviderFactory};

fn smollm2() -> PathBuf {
    PathBuf::from(
        std::env::var(rightfit_config::env::TEST_MODEL)
            .expect("RIGHTFIT_TEST_MODEL: the path of SmolLM2-135M-Instruct.Q4_1.gguf"),
    )
}

fn settings(home: &Path) -> Settings {
    Settings::resolve(&Overrides {
        home: Some(home.to_owned()),
        threads: Some(1),
    })
    .expect("settings")
}

/// Models `a` and `b` configured alike on the same file, `c` with other engine settings, and a
/// hosted one.
fn project(dir: &Path, file: &Path) -> Project {
    let text = format!(
        r#"
[project]
name = "registry"

[models.a]
provider = "local"
model = "{file}"
context_size = 512
parallel = 2

[models.b]
provider = "local"
model = "{file}"
context_size = 512
parallel = 2

[models.c]
provider = "local"
model = "{file}"
context_size = 1024
parallel = 2

[models.missing]
provider = "local"
model = "{missing}"

[models.remote]
provider = "openai-compatible"
model = "m"
base_url = "http://127.0.0.1:9/v1"

[components.c]
prompt = "{{{{ text }}}}"
dataset = {{ path = "data.jsonl" }}
reference = "label"
output = {{ type = "label", labels = ["yes", "no"] }}
metrics = ["accuracy"]

[[components.c.candidates]]
name = "a"
model = "a"
"#,
        file = file.display(),
        missing = dir.join("nowhere.gguf").display(),
    );
    std::fs::write(
        dir.join("data.jsonl"),
        "{\"text\": \"x\", \"label\": \"yes\"}\n",
    )
    .expect("write data");
    let path = dir.join("rightfit.toml");
    std::fs::write(&path, &text).expect("write");
    Project::parse(&path, &text).expect("project")
}

#[tokio::test]
async fn smollm2_models_configured_alike_share_one_engine_freed_with_the_last_provider() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = project(dir.path(), &smollm2());
    let registry = ModelRegistry::new(&settings(dir.path()));
    assert_eq!(registry.engines_alive(), 0);

    let a = registry.provider(&p.models["a"]).await.expect("a");
    let b = registry.provider(&p.models["b"]).await.expect("b");
    assert_eq!(registry.engines_alive(), 1, "a and b share one engine");
    assert_eq!(a.name(), "a");
    assert_eq!(b.name(), "b");

    let c = registry.provider(&p.models["c"]).await.expect("c");
    assert_eq!(
        registry.engines_alive(),
        2,
        "other engine settings, another engine"
    );

    drop(a);
    assert_eq!(
        registry.engines_alive(),
        2,
        "b still holds the shared engine"
    );
    drop(b);
    assert_eq!(registry.engines_alive(), 1, "the last provider freed it");
    drop(c);
    assert_eq!(registry.engines_alive(), 0);

    // Loaded again on demand after being freed.
    let again = registry.provider(&p.models["a"]).await.expect("a again");
    assert_eq!(registry.engines_alive(), 1);
    drop(again);
}

#[tokio::test]
async fn smollm2_an_engine_loaded_by_name_is_shared_with_a_model_entry_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = project(dir.path(), &smollm2());
    let registry = ModelRegistry::new(&settings(dir.path()));
    let tune = |o: &mut rightfit_llama::EngineOptions| {
        o.context_size = 512;
        o.parallel = 2;
    };
    let loaded = registry
        .load(&smollm2().display().to_string(), &tune)
        .await
        .expect("load");
    assert_eq!(loaded.name, "SmolLM2-135M-Instruct.Q4_1");
    let a = registry.provider(&p.models["a"]).await.expect("a");
    assert_eq!(registry.engines_alive(), 1);
    drop((loaded, a));
    assert_eq!(registry.engines_alive(), 0);
}

#[tokio::test]
async fn a_missing_file_names_the_model_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = project(dir.path(), Path::new("unused.gguf"));
    let registry = ModelRegistry::new(&settings(dir.path()));
    let e = registry
        .provider(&p.models["missing"])
        .await
        .expect_err("missing file");
    assert!(matches!(e, BuildError::Model { .. }), "{e:?}");
    assert!(e.to_string().starts_with("models.missing: "), "{e}");
    assert!(e.to_string().contains("nowhere.gguf"), "{e}");
    let e = registry
        .load("no-such-model", &|_| {})
        .await
        .expect_err("unknown name");
    assert!(matches!(e, BuildError::Local(_)), "{e:?}");
}

#[tokio::test]
async fn hosted_models_are_built_without_a_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = project(dir.path(), Path::new("unused.gguf"));
    let registry = ModelRegistry::new(&settings(dir.path()));
    let remote = registry
        .provider(&p.models["remote"])
        .await
        .expect("remote");
    assert_eq!(remote.name(), "remote");
    assert!(remote.retries_internally());
    assert_eq!(registry.engines_alive(), 0);
}
