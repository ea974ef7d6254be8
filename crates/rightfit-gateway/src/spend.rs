//! Keys' spend from stored traffic: what the traffic writer and the journal's replay both add
//! once their records are stored.

use std::collections::BTreeMap;

use rightfit_store::TrafficStore;
use rightfit_types::TrafficRecord;

/// Adds the cost of `records` to their keys' spend, one update per key. A spend that cannot be
/// added is logged; the records are stored all the same.
pub(crate) async fn add_spend<'a>(
    store: &dyn TrafficStore,
    records: impl IntoIterator<Item = &'a TrafficRecord>,
) {
    let mut spend: BTreeMap<&str, f64> = BTreeMap::new();
    for r in records {
        if let (Some(key), Some(cost)) = (&r.key_id, r.cost_usd)
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
