//! The config loader: any text is a project or an error that names the file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rightfit_config::project::Project;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent-rightfit-fuzz/rightfit.toml");
    if let Err(e) = Project::parse(path, text) {
        assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
    }
});
