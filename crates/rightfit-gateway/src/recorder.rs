//! Recording traffic off the request path: [`TrafficRecorder::record`] appends a record to the
//! journal ([`crate::journal`], when there is one: one write, so a killed gateway loses nothing it
//! answered) and puts it in a queue (never waiting on the database); a background task, the
//! [`Writer`], writes the queue in batches, one transaction each, and tells the journal what is
//! stored. [`Writer::close`] stops taking records and writes every one already queued. Once a
//! batch is stored, the writer adds to their keys' spend the cost of the records whose cost was
//! not added when they finished ([`Spend::Pending`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rightfit_store::{StoreError, TrafficStore};
use rightfit_types::TrafficRecord;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::journal::{Journal, Spend};
use crate::metrics::Metrics;
use crate::spend::add_stored;

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
    /// Records lost to failed batches (kept in the journal, when there is one, for the next
    /// start).
    pub failed_records: AtomicU64,
    /// Records the journal could not take (they still go to the store).
    pub journal_errors: AtomicU64,
}

/// A queued record, its journal segment, and whether its cost is in its key's spend already.
type Queued = (TrafficRecord, Option<u64>, Spend);

/// Hands records to the writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TrafficRecorder {
    tx: mpsc::Sender<Queued>,
    stats: Arc<WriterStats>,
    metrics: Metrics,
    journal: Option<Arc<Journal>>,
}

impl TrafficRecorder {
    /// Appends a record to the journal (one write; with `durability = "power"` a disk flush
    /// too), then queues it; never waits on the database. `spend` says whether its cost is in
    /// its key's spend already ([`Spend::Pending`]: the writer adds it once the record is
    /// stored). A full queue drops the record and counts it (a journalled one is stored at the
    /// next start).
    pub fn record(&self, record: TrafficRecord, spend: Spend) {
        let segment = self
            .journal
            .as_ref()
            .and_then(|j| match j.append(&record, spend) {
                Ok(segment) => Some(segment),
                Err(e) => {
                    self.stats.journal_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("traffic journal: {e}; this record goes to the store only");
                    None
                }
            });
        if self.tx.try_send((record, segment, spend)).is_err() {
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
/// Each batch's priced requests whose cost is [`Spend::Pending`] are added to their keys' spend
/// once the batch is stored; the journal hears which records are stored, and is closed once the
/// writer drains.
pub fn spawn(
    store: Arc<dyn TrafficStore>,
    metrics: Metrics,
    batch: usize,
    flush: Duration,
    journal: Option<Arc<Journal>>,
) -> (TrafficRecorder, Writer) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (stop, stopped) = oneshot::channel();
    let stats = Arc::new(WriterStats::default());
    let sink = Sink {
        store,
        stats: stats.clone(),
        metrics: metrics.clone(),
        journal: journal.clone(),
    };
    let task = tokio::spawn(run(sink, rx, stopped, batch.max(1), flush));
    (
        TrafficRecorder {
            tx,
            stats,
            metrics,
            journal,
        },
        Writer { task, stop },
    )
}

/// Where the writer's batches go, and who hears about them.
struct Sink {
    store: Arc<dyn TrafficStore>,
    stats: Arc<WriterStats>,
    metrics: Metrics,
    journal: Option<Arc<Journal>>,
}

async fn run(
    sink: Sink,
    mut rx: mpsc::Receiver<Queued>,
    mut stopped: oneshot::Receiver<()>,
    batch: usize,
    flush: Duration,
) {
    let mut pending: Vec<Queued> = Vec::with_capacity(batch);
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
        write(&sink, &mut pending).await;
    }
    if !pending.is_empty() {
        write(&sink, &mut pending).await;
    }
    if let Some(j) = &sink.journal {
        j.close();
    }
}

/// Tells the journal that the records of `segments` were stored (`ok`) or not.
fn tell(journal: Option<&Journal>, segments: impl IntoIterator<Item = Option<u64>>, ok: bool) {
    let Some(journal) = journal else { return };
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for s in segments.into_iter().flatten() {
        *counts.entry(s).or_default() += 1;
    }
    for (segment, n) in counts {
        journal.stored(segment, n, ok);
    }
}

async fn write(sink: &Sink, queued: &mut Vec<Queued>) {
    let Sink {
        store,
        stats,
        metrics,
        journal,
    } = sink;
    let journal = journal.as_deref();
    let mut pending = Vec::with_capacity(queued.len());
    let mut segments = Vec::with_capacity(queued.len());
    let mut spends = Vec::with_capacity(queued.len());
    for (record, segment, spend) in queued.drain(..) {
        pending.push(record);
        segments.push(segment);
        spends.push(spend);
    }
    // A record whose id is taken fails its batch: drop that one (counted) and write the rest.
    let mut result = store.put_traffic(&pending).await;
    while let Err(StoreError::DuplicateTraffic { id, .. }) = &result {
        let Some(at) = pending.iter().position(|r| r.id == *id) else {
            break;
        };
        pending.remove(at);
        spends.remove(at);
        // The id is stored: as far as the journal is concerned, this record is.
        tell(journal, [segments.remove(at)], true);
        tracing::error!("traffic log: record {id} was already stored; dropped");
        stats.failed_records.fetch_add(1, Ordering::Relaxed);
        metrics.traffic_dropped(1);
        result = store.put_traffic(&pending).await;
    }
    let n = pending.len() as u64;
    match result {
        Ok(()) => {
            tell(journal, segments, true);
            stats.written.fetch_add(n, Ordering::Relaxed);
            metrics.traffic_written(n);
            add_stored(&**store, pending.iter().zip(spends)).await;
        }
        Err(e) => {
            tell(journal, segments, false);
            stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            stats.failed_records.fetch_add(n, Ordering::Relaxed);
            metrics.traffic_dropped(n);
            let kept = if journal.is_some() {
                " (kept in the journal: stored at the next start)"
            } else {
                ""
            };
            tracing::error!("traffic log: {n} records could not be written{kept}: {e}");
        }
    }
}
