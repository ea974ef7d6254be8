//! Four `rightfit` processes started at once on a store that does not exist yet: each must
//! succeed, whichever creates the schema (they used to race: "table runs already exists", a
//! duplicate migration version, "database is locked").

use std::process::{Command, Stdio};

#[test]
fn four_processes_starting_on_a_new_store_all_succeed() {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("stores");
    for round in 0..5 {
        let store = dir.path().join(format!("round-{round}/runs.db"));
        let store = store.display().to_string();
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_rightfit"))
                    .args(["runs", "list", "--store", &store, "--json"])
                    .env("RIGHTFIT_HOME", home.path())
                    .env_remove("RIGHTFIT_LOG")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let o = child.wait_with_output().expect("wait");
            assert!(
                o.status.success(),
                "round {round}, process {i}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).trim(),
                "[]",
                "round {round}"
            );
        }
    }
}

/// The same on an empty PostgreSQL database: four processes, one schema (sqlx's advisory lock).
#[tokio::test(flavor = "multi_thread")]
async fn four_processes_starting_on_an_empty_postgres_database_all_succeed() {
    let home = tempfile::tempdir().expect("home");
    for round in 0..3 {
        let db = rightfit_testkit::postgres::TestDatabase::create().await;
        let children: Vec<_> = (0..4)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_rightfit"))
                    .args(["keys", "list", "--store", db.url()])
                    .env("RIGHTFIT_HOME", home.path())
                    .env_remove("RIGHTFIT_LOG")
                    .env_remove("RIGHTFIT_DATABASE_URL")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let o = child.wait_with_output().expect("wait");
            assert!(
                o.status.success(),
                "round {round}, process {i}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                String::from_utf8_lossy(&o.stdout).contains("no gateway keys yet"),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
    }
}
