//! Keys' spend in the store, each request's cost added once.
//!
//! A request of a key with a budget adds its cost when it finishes ([`add_now`], called by
//! `App::finish` before the answer completes), so that the next budget check on any replica sees
//! it; its traffic record then says [`Spend::Added`]. Every other priced record says
//! [`Spend::Pending`] (keys without a budget, or an add that failed), and its cost is added once
//! the record is stored, by the traffic writer or by the journal's replay ([`add_stored`]), which
//! skip the records that say [`Spend::Added`].

use std::collections::BTreeMap;

use rightfit_store::TrafficStore;
use rightfit_types::TrafficRecord;

use crate::metrics::{KeyCheck, Metrics};

/// Whether a record's cost is in its key's spend already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// Added when the request finished (a key with a budget): the writer and the replay leave
    /// it alone.
    Added,
    /// To be added once the record is stored, by the traffic writer or the replay (keys without
    /// a budget, unpriced records, or an add that failed).
    Pending,
}

/// Adds a finished request's cost to its key's spend now. [`Spend::Added`] if it was added;
/// [`Spend::Pending`] if there was nothing to add or the store failed (logged and counted: the
/// record carries it to the traffic writer, which adds it once the record is stored).
pub(crate) async fn add_now(
    store: &dyn TrafficStore,
    metrics: &Metrics,
    key_id: &str,
    usd: f64,
) -> Spend {
    if !(usd.is_finite() && usd > 0.0) {
        return Spend::Pending;
    }
    match store.add_spend(key_id, usd).await {
        Ok(()) => Spend::Added,
        Err(e) => {
            metrics.key_store_error(KeyCheck::Spend);
            tracing::error!(
                "gateway key {key_id}: spend not added when the request finished, added with its traffic record instead: {e}"
            );
            Spend::Pending
        }
    }
}

/// Adds the cost of stored `records` whose spend is [`Spend::Pending`] to their keys' spend, one
/// update per key. A spend that cannot be added is logged; the records are stored all the same.
pub(crate) async fn add_stored<'a>(
    store: &dyn TrafficStore,
    records: impl IntoIterator<Item = (&'a TrafficRecord, Spend)>,
) {
    let mut spend: BTreeMap<&str, f64> = BTreeMap::new();
    for (r, s) in records {
        if let (Spend::Pending, Some(key), Some(cost)) = (s, &r.key_id, r.cost_usd)
            && cost > 0.0
        {
            *spend.entry(key).or_default() += cost;
        }
    }
    for (key, usd) in spend {
        if let Err(e) = store.add_spend(key, usd).await {
            tracing::error!("traffic log: spend of key {key} not recorded: {e}");
        }
    }
}
