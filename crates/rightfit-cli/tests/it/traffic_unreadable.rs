//! `rightfit traffic list | stats | export` on a store holding a row that does not read back:
//! each command skips it, names it, and shows the rest.

use rightfit_types::TrafficRecord;

use crate::hosted::run;
use crate::stderr;
use crate::traffic::{log, write_log};

#[tokio::test(flavor = "multi_thread")]
async fn a_record_that_does_not_read_back_is_skipped_by_every_traffic_command() {
    let home = tempfile::tempdir().expect("home");
    let dir = tempfile::tempdir().expect("store dir");
    let path = dir.path().join("gateway.db");
    write_log(&path).await;
    // One row damaged behind the store's back (JSON nested past what any reader parses, as a
    // gateway without today's depth rule could store it).
    {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .expect("connect");
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        sqlx::query("UPDATE traffic SET input = ? WHERE id = 'req_3'")
            .bind(deep)
            .execute(&mut conn)
            .await
            .expect("damage");
        conn.close().await.expect("close");
    }
    let store = path.to_string_lossy().into_owned();
    let out = dir.path().join("export.jsonl");
    let out = out.to_string_lossy().into_owned();
    for args in [
        vec!["traffic", "list", "--store", &store, "--format", "json"],
        vec!["traffic", "stats", "--store", &store, "--format", "json"],
        vec![
            "traffic",
            "export",
            "--store",
            &store,
            "--component",
            "intent",
            "-o",
            &out,
        ],
    ] {
        let o = run(home.path(), &args, &[]).await;
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("traffic record 'req_3'") && err.contains("skipped"),
            "{args:?}: {err}"
        );
    }
    let o = run(
        home.path(),
        &["traffic", "list", "--store", &store, "--format", "json"],
        &[],
    )
    .await;
    let listed: Vec<TrafficRecord> = serde_json::from_slice(&o.stdout).expect("records");
    assert_eq!(listed.len(), log().len() - 1);
    assert!(listed.iter().all(|r| r.id != "req_3"));
}
