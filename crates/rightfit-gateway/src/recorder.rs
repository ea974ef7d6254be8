//! Recording traffic off the request path: [`TrafficRecorder::record`] puts a record in a queue
//! (never waiting on the database) and a background task, the [`Writer`], writes the queue in
//! batches, one transaction each. [`Writer::close`] stops taking records and writes every one
//! already queued.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rightfit_store::{StoreError, TrafficStore};
use rightfit_types::TrafficRecord;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// Records waiting to be written before new ones are dropped (and counted) rather than let the
/// queue grow without bound under a database that cannot keep up.
pub const QUEUE: usize = 262_144;

/// Counts the writer keeps (exported as metrics).
#[derive(Debug, Default)]
pub struct WriterStats {
    pub written: AtomicU64,
    /// Records dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Batches that failed to write (their records are counted in `failed_records`).
    pub failed_batches: AtomicU64,
    /// Records lost to failed batches.
    pub failed_records: AtomicU64,
}

/// Hands records to the writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TrafficRecorder {
    tx: mpsc::Sender<TrafficRecord>,
    stats: Arc<WriterStats>,
    metrics: Metrics,
}

impl TrafficRecorder {
    /// Queues a record; never waits. A full queue drops the record and counts it.
    pub fn record(&self, record: TrafficRecord) {
        if self.tx.try_send(record).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.metrics.traffic_dropped(1);
        }
    }

    /// Records written, dropped and lost so far.
    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }
}

/// The background task that writes queued records; close it to drain the queue.
#[derive(Debug)]
pub struct Writer {
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

impl Writer {
    /// Stops taking records (later ones are dropped and counted), writes every record already
    /// queued, and returns once they are in the store.
    pub async fn close(self) -> Result<(), String> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| format!("traffic writer failed: {e}"))
    }
}

/// Starts the writer: batches of at most `batch` records, written at least every `flush`.
/// Each batch's priced requests are added to their keys' spend in the same pass.
pub fn spawn(
    store: Arc<dyn TrafficStore>,
    metrics: Metrics,
    batch: usize,
    flush: Duration,
) -> (TrafficRecorder, Writer) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (stop, stopped) = oneshot::channel();
    let stats = Arc::new(WriterStats::default());
    let task = tokio::spawn(run(
        store,
        rx,
        stopped,
        batch.max(1),
        flush,
        (stats.clone(), metrics.clone()),
    ));
    (
        TrafficRecorder { tx, stats, metrics },
        Writer { task, stop },
    )
}

async fn run(
    store: Arc<dyn TrafficStore>,
    mut rx: mpsc::Receiver<TrafficRecord>,
    mut stopped: oneshot::Receiver<()>,
    batch: usize,
    flush: Duration,
    (stats, metrics): (Arc<WriterStats>, Metrics),
) {
    let mut pending: Vec<TrafficRecord> = Vec::with_capacity(batch);
    let mut stopping = false;
    loop {
        // Wait for the first record of a batch, then gather more until the batch is full or
        // `flush` has passed since that first record. Once stopping, the queue is closed and
        // whatever is in it is written in full batches.
        let first = if stopping {
            rx.recv().await
        } else {
            tokio::select! {
                r = rx.recv() => r,
                _ = &mut stopped => {
                    stopping = true;
                    rx.close();
                    continue;
                }
            }
        };
        let Some(first) = first else { break };
        pending.push(first);
        let deadline = tokio::time::Instant::now() + flush;
        while pending.len() < batch {
            // Take what is already queued without waiting.
            let room = batch - pending.len();
            let got = rx.recv_many(&mut pending, room);
            match tokio::time::timeout_at(deadline, got).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        write(&*store, &mut pending, &stats, &metrics).await;
    }
    if !pending.is_empty() {
        write(&*store, &mut pending, &stats, &metrics).await;
    }
}

async fn write(
    store: &dyn TrafficStore,
    pending: &mut Vec<TrafficRecord>,
    stats: &WriterStats,
    metrics: &Metrics,
) {
    // A record whose id is taken fails its batch: drop that one (counted) and write the rest.
    let mut result = store.put_traffic(pending).await;
    while let Err(StoreError::DuplicateTraffic { id, .. }) = &result {
        let before = pending.len();
        pending.retain(|r| r.id != *id);
        if pending.len() == before {
            break;
        }
        tracing::error!("traffic log: record {id} was already stored; dropped");
        stats.failed_records.fetch_add(1, Ordering::Relaxed);
        metrics.traffic_dropped(1);
        result = store.put_traffic(pending).await;
    }
    let n = pending.len() as u64;
    match result {
        Ok(()) => {
            stats.written.fetch_add(n, Ordering::Relaxed);
            metrics.traffic_written(n);
            let mut spend: BTreeMap<String, f64> = BTreeMap::new();
            for r in pending.iter() {
                if let (Some(key), Some(cost)) = (&r.key_id, r.cost_usd)
                    && cost > 0.0
                {
                    *spend.entry(key.clone()).or_default() += cost;
                }
            }
            for (key, usd) in spend {
                if let Err(e) = store.add_spend(&key, usd).await {
                    tracing::error!("traffic log: spend of key {key} not recorded: {e}");
                }
            }
        }
        Err(e) => {
            stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            stats.failed_records.fetch_add(n, Ordering::Relaxed);
            metrics.traffic_dropped(n);
            tracing::error!("traffic log: {n} records could not be written: {e}");
        }
    }
    pending.clear();
}
