//! What tells a running gateway to stop or to reload its policies: Ctrl-C and SIGTERM stop it;
//! SIGHUP, or an edit of the project file, reloads it. Each reload is sent as `()` on a channel
//! that [`crate::Gateway::serve`] reads.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Sends on `tx` at each SIGHUP until the receiver is gone (on Unix; elsewhere never).
pub fn reload_on_sighup(tx: mpsc::Sender<()>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    break;
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tx;
    Ok(())
}

/// Sends on `tx` whenever `file`'s modification time changes. Polls once a second (no platform
/// watcher needed; an edit is picked up within a second).
pub fn reload_on_change(file: PathBuf, tx: mpsc::Sender<()>) {
    let modified = |f: &PathBuf| std::fs::metadata(f).and_then(|m| m.modified()).ok();
    tokio::spawn(async move {
        let mut last: Option<SystemTime> = modified(&file);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = modified(&file);
            if now.is_some() && now != last {
                last = now;
                if tx.send(()).await.is_err() {
                    break;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_edit_of_the_file_asks_for_a_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rightfit.toml");
        std::fs::write(&file, "a").expect("write");
        let (tx, mut rx) = mpsc::channel(4);
        reload_on_change(file.clone(), tx);
        // Let the watcher read the first modification time, then change it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let later = SystemTime::now() + Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .and_then(|f| f.set_modified(later))
            .expect("touch");
        let got = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
        assert_eq!(got.expect("a reload within 30 s"), Some(()));
    }
}
