//! The traffic journal: every finished record is appended to a local file, synchronously, before
//! its answer completes, and only then queued for the batched database writer. A killed gateway
//! (SIGKILL, a crash, OOM) loses nothing it answered: the kernel keeps what `write(2)` took, and
//! the next start replays the journal into the store ([`replay`]) before serving.
//!
//! The journal is a directory of segments (`00000001.jsonl`, …), one JSON record per line. A
//! segment is deleted once it is closed (the next one started, or the gateway stopping) and every
//! record in it is in the store; a record the writer could not store keeps its segment for the
//! next start. With [`Durability::Power`] each append is also flushed to the disk (`fdatasync`),
//! so an acknowledged answer survives a power cut too, at the cost of one disk flush per request.
//!
//! One gateway at a time owns a journal: the directory is locked (`flock` on `lock`) for as long
//! as the journal is open.
//!
//! A line also says whether the record's cost is already in its key's spend
//! (`"spend_added": true`, [`Spend::Added`]: a budgeted key's cost is added when its request
//! finishes, before the record is appended). The replay adds the cost of the records it stores
//! only when the line does not say so, so no cost is counted twice: a gateway killed after adding
//! a spend and before appending its record has the spend counted and the record lost (its
//! answer never completed); one killed after appending has the record stored by the replay and
//! the spend left as it is. (Lines written before this flag existed have none, and their cost is
//! added as it always was.)

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rightfit_config::project::Durability;
use rightfit_store::TrafficStore;
use rightfit_types::TrafficRecord;
use serde::{Deserialize, Serialize};

pub use crate::spend::Spend;
use crate::spend::add_stored;

/// A journal line as written: the record's fields, and `spend_added` when it is.
#[derive(Serialize)]
struct LineOut<'a> {
    #[serde(flatten)]
    record: &'a TrafficRecord,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    spend_added: bool,
}

/// A journal line as read.
#[derive(Deserialize)]
struct LineIn {
    #[serde(flatten)]
    record: TrafficRecord,
    #[serde(default)]
    spend_added: bool,
}

/// A segment is closed and a new one started after this many records …
const SEGMENT_RECORDS: u64 = 8_192;
/// … or this many bytes, whichever comes first.
const SEGMENT_BYTES: u64 = 64 << 20;
/// Records replayed into the store per transaction.
const REPLAY_BATCH: usize = 1_024;

/// The open journal of a running gateway.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    sync: bool,
    current: Mutex<Segment>,
    tallies: Mutex<BTreeMap<u64, Tally>>,
    /// Held for the lock it carries.
    _lock: File,
}

/// The segment records are appended to.
#[derive(Debug)]
struct Segment {
    number: u64,
    file: File,
    records: u64,
    bytes: u64,
}

/// What became of a segment's records.
#[derive(Debug, Default)]
struct Tally {
    appended: u64,
    stored: u64,
    /// A record of it could not be stored: keep the file for the next start.
    kept: bool,
    /// No more records will be appended to it.
    closed: bool,
}

impl Tally {
    fn done(&self) -> bool {
        self.closed && !self.kept && self.stored >= self.appended
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}.jsonl"))
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            out.push((number, path));
        }
    }
    out.sort();
    Ok(out)
}

/// What [`replay`] found in a journal left by an earlier gateway.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Segments read.
    pub segments: usize,
    /// Records stored now (answered before the earlier gateway stopped, never written).
    pub stored: u64,
    /// Records the store already had.
    pub present: u64,
    /// Lines that are not a record (a line cut short by a crash mid-write, or damage); their
    /// segments are kept aside in `unreadable/`.
    pub unreadable: u64,
}

impl Replayed {
    /// One line for the log.
    pub fn describe(&self, dir: &Path) -> String {
        let mut text = format!(
            "traffic journal {}: {} record(s) recovered into the store, {} already there, from {} segment(s)",
            dir.display(),
            self.stored,
            self.present,
            self.segments
        );
        if self.unreadable > 0 {
            text.push_str(&format!(
                "; {} unreadable line(s), their segments kept in {}",
                self.unreadable,
                dir.join("unreadable").display()
            ));
        }
        text
    }
}

impl Journal {
    /// Opens (creating) the journal in `dir` and locks it; returns it with the segments an
    /// earlier gateway left, for [`replay`] before the first append.
    pub fn open(dir: &Path, durability: Durability) -> Result<(Self, Vec<PathBuf>), String> {
        let at = |e: std::io::Error| format!("traffic journal {}: {e}", dir.display());
        fs::create_dir_all(dir).map_err(at)?;
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(at)?;
        lock_file.try_lock().map_err(|_| {
            format!(
                "traffic journal {} is in use by another gateway: give each gateway its own ([gateway] journal = \"PATH\")",
                dir.display()
            )
        })?;
        let left = segments(dir)?;
        let number = left.last().map_or(1, |(n, _)| n + 1);
        let journal = Self {
            dir: dir.to_owned(),
            sync: durability == Durability::Power,
            current: Mutex::new(Self::create(dir, number)?),
            tallies: Mutex::new(BTreeMap::from([(number, Tally::default())])),
            _lock: lock_file,
        };
        Ok((journal, left.into_iter().map(|(_, p)| p).collect()))
    }

    fn create(dir: &Path, number: u64) -> Result<Segment, String> {
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("traffic journal {}: {e}", path.display()))?;
        Ok(Segment {
            number,
            file,
            records: 0,
            bytes: 0,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `record` and whether its cost is in its key's spend already, with one write
    /// (flushed to the disk with [`Durability::Power`]); returns its segment, to hand back to
    /// [`Journal::stored`] once the record is in the store.
    pub fn append(&self, record: &TrafficRecord, spend: Spend) -> Result<u64, String> {
        let line = LineOut {
            record,
            spend_added: spend == Spend::Added,
        };
        let mut line = serde_json::to_vec(&line).map_err(|e| format!("encoding: {e}"))?;
        line.push(b'\n');
        let mut current = lock(&self.current);
        if current.records >= SEGMENT_RECORDS || current.bytes >= SEGMENT_BYTES {
            let next = Self::create(&self.dir, current.number + 1)?;
            let old = std::mem::replace(&mut *current, next);
            let mut tallies = lock(&self.tallies);
            tallies.insert(current.number, Tally::default());
            if let Some(t) = tallies.get_mut(&old.number) {
                t.closed = true;
            }
            self.settle(&mut tallies, old.number);
        }
        let (dir, number) = (&self.dir, current.number);
        let path = || segment_path(dir, number);
        current
            .file
            .write_all(&line)
            .map_err(|e| format!("{}: {e}", path().display()))?;
        if self.sync {
            current
                .file
                .sync_data()
                .map_err(|e| format!("{}: {e}", path().display()))?;
        }
        current.records += 1;
        current.bytes += line.len() as u64;
        let number = current.number;
        lock(&self.tallies).entry(number).or_default().appended += 1;
        Ok(number)
    }

    /// `n` records of `segment` were stored (`ok`), or could not be (their segment stays for the
    /// next start to replay).
    pub fn stored(&self, segment: u64, n: u64, ok: bool) {
        let mut tallies = lock(&self.tallies);
        if let Some(t) = tallies.get_mut(&segment) {
            if ok {
                t.stored += n;
            } else {
                t.kept = true;
            }
        }
        self.settle(&mut tallies, segment);
    }

    /// Closes the segment under way (the gateway is stopping, its writer drained): deleted if
    /// every record in it was stored.
    pub fn close(&self) {
        let number = lock(&self.current).number;
        let mut tallies = lock(&self.tallies);
        if let Some(t) = tallies.get_mut(&number) {
            t.closed = true;
        }
        self.settle(&mut tallies, number);
    }

    /// Deletes `segment` if it is closed and all stored.
    fn settle(&self, tallies: &mut BTreeMap<u64, Tally>, segment: u64) {
        if tallies.get(&segment).is_some_and(Tally::done) {
            tallies.remove(&segment);
            let path = segment_path(&self.dir, segment);
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!("traffic journal: cannot delete {}: {e}", path.display());
            }
        }
    }

    /// Segments not yet deleted (the one under way included).
    pub fn open_segments(&self) -> usize {
        lock(&self.tallies).len()
    }
}

/// Stores the records of `segments` (left by an earlier gateway) that the store lacks, adding
/// their cost to their keys' spend unless it was added when they finished, and deletes each
/// segment once it is in. A segment with an unreadable line is moved to `unreadable/` after its
/// readable records are stored; a store error stops the replay and keeps what was not stored.
pub async fn replay(
    store: &dyn TrafficStore,
    dir: &Path,
    segments: &[PathBuf],
) -> Result<Replayed, String> {
    let mut out = Replayed::default();
    for path in segments {
        let (lines, unreadable) = read_segment(path)?;
        let (records, spends): (Vec<TrafficRecord>, Vec<Spend>) = lines.into_iter().unzip();
        for (chunk, spends) in records
            .chunks(REPLAY_BATCH)
            .zip(spends.chunks(REPLAY_BATCH))
        {
            let added = store
                .put_traffic_missing(chunk)
                .await
                .map_err(|e| format!("replaying {}: {e}", path.display()))?;
            let new: Vec<(&TrafficRecord, Spend)> = chunk
                .iter()
                .zip(spends.iter().copied())
                .zip(&added)
                .filter_map(|(r, new)| new.then_some(r))
                .collect();
            out.stored += new.len() as u64;
            out.present += (chunk.len() - new.len()) as u64;
            // Only the records stored now: the others' cost was counted when they were. Of
            // those, only the ones whose cost was not added when they finished.
            add_stored(store, new).await;
        }
        out.segments += 1;
        if unreadable > 0 {
            out.unreadable += unreadable;
            let aside = dir.join("unreadable");
            fs::create_dir_all(&aside).map_err(|e| format!("{}: {e}", aside.display()))?;
            let name = path.file_name().unwrap_or_default();
            let stamp = rightfit_config::time::unix_now();
            let to = aside.join(format!("{stamp}-{}", name.to_string_lossy()));
            fs::rename(path, &to).map_err(|e| format!("{}: {e}", path.display()))?;
        } else {
            fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(out)
}

/// The records of one segment (each with whether its cost was added) and how many of its lines
/// are not one.
fn read_segment(path: &Path) -> Result<(Vec<(TrafficRecord, Spend)>, u64), String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut records = Vec::new();
    let mut unreadable = 0;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        // A last line without its newline was cut short mid-write; anything else that does
        // not parse is damage. Either way it is counted, not fatal.
        let whole = line.last() == Some(&b'\n');
        match serde_json::from_slice::<LineIn>(&line) {
            Ok(l) if whole => {
                let spend = if l.spend_added {
                    Spend::Added
                } else {
                    Spend::Pending
                };
                records.push((l.record, spend));
            }
            _ if line.iter().all(u8::is_ascii_whitespace) => {}
            _ => {
                tracing::warn!(
                    "traffic journal {}: a line of {} bytes is not a record; skipped",
                    path.display(),
                    line.len()
                );
                unreadable += 1;
            }
        }
    }
    Ok((records, unreadable))
}
