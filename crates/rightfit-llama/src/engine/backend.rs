//! The process-wide llama.cpp backend.
//!
//! llama.cpp may be initialised once per process, so every engine (and every test) shares one
//! backend. Its log output is routed into `tracing`, where the CLI's filter decides what shows.

use std::ffi::CStr;
use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::{LogOptions, send_logs_to_tracing};

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The shared backend, initialised on first use.
pub(crate) fn backend() -> Result<&'static LlamaBackend, String> {
    BACKEND
        .get_or_init(|| {
            send_logs_to_tracing(LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Names of the chat templates llama.cpp has built in (`chatml`, `gemma`, `llama3`, ...).
pub fn builtin_templates() -> Vec<String> {
    // SAFETY: with a null buffer llama.cpp only returns the count; with a buffer of that many
    // pointers it fills each with a pointer to a static, NUL-terminated name.
    unsafe {
        let n = llama_cpp_sys_2::llama_chat_builtin_templates(std::ptr::null_mut(), 0);
        let Ok(len) = usize::try_from(n) else {
            return Vec::new();
        };
        let mut names: Vec<*const std::os::raw::c_char> = vec![std::ptr::null(); len];
        let got = llama_cpp_sys_2::llama_chat_builtin_templates(names.as_mut_ptr(), len);
        let got = usize::try_from(got).unwrap_or(0).min(len);
        names[..got]
            .iter()
            .filter(|p| !p.is_null())
            .map(|p| CStr::from_ptr(*p).to_string_lossy().into_owned())
            .collect()
    }
}
