//! Fuzz test of the config loader (`rightfit_config::project::Project::parse`) with the starter
//! project and the repository's examples as seeds (`rightfit_testkit::fuzz`,
//! `RIGHTFIT_FUZZ_CASES` cases): any text is a project or an error that names the file — never a
//! panic. (It lives here because `rightfit-config` cannot depend on this crate.)

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rightfit_config::project::{Project, STARTER};
use rightfit_testkit::fuzz;

fn seeds() -> Vec<String> {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut out = vec![STARTER.to_owned()];
    for name in ["rightfit.toml", "distill.toml", "lift.toml"] {
        out.push(std::fs::read_to_string(examples.join(name)).expect("example"));
    }
    out
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn any_text_is_a_project_or_an_error_naming_the_file(text in fuzz::text(seeds())) {
        let dir = tempfile::tempdir().expect("dir");
        let path: PathBuf = dir.path().join("rightfit.toml");
        if let Err(e) = Project::parse(&path, &text) {
            let said = e.to_string();
            prop_assert!(said.starts_with(&path.display().to_string()), "{}", said);
        }
    }
}
