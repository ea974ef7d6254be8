//! Shared helpers: finding the test model, loading engines, running requests to completion.

use std::path::PathBuf;

use futures::executor::block_on;
use rightfit_llama::{Engine, EngineOptions, LocalProvider, catalog, models::ModelStore};
use rightfit_providers::Provider;
use rightfit_types::{ChatRequest, ChatResponse};

/// The SmolLM2-135M file. Fails (does not skip) when it is missing: these tests are the proof
/// that the engine works, and silently skipping them would hide that.
pub fn smollm2() -> PathBuf {
    if let Ok(p) = std::env::var(rightfit_config::env::TEST_MODEL) {
        return PathBuf::from(p);
    }
    let home = std::env::var(rightfit_config::env::HOME)
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/rightfit")
        });
    let entry = catalog::find("smollm2-135m").expect("catalogue entry");
    let path = ModelStore::new(home.join("models")).path_of(entry);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test (it pulls the model) or 'rightfit models pull smollm2-135m', \
         or set RIGHTFIT_TEST_MODEL",
        path.display()
    );
    path
}

/// Options for tests: two threads, a modest context.
pub fn options(parallel: u32) -> EngineOptions {
    EngineOptions {
        context_size: 2048,
        parallel,
        threads: 2,
        ..EngineOptions::default()
    }
}

pub fn load(options: EngineOptions) -> Engine {
    Engine::load(&smollm2(), options).expect("SmolLM2 loads")
}

pub fn provider(engine: &Engine) -> LocalProvider {
    LocalProvider::new("smollm2-135m", engine.clone())
}

pub fn complete(engine: &Engine, request: ChatRequest) -> ChatResponse {
    block_on(provider(engine).complete(request)).expect("request succeeds")
}
