//! The [`TrafficStore`] of [`SqliteStore`]: the gateway's traffic log (table `traffic`) and its
//! keys (table `gateway_keys`), both from migration 4 (the answer's tool calls from migration 6), and the keys' shared rate
//! limits (table `key_buckets`, migration 7).

pub(crate) mod rows;

use async_trait::async_trait;
use rightfit_types::{GatewayKey, TrafficFilter, TrafficRecord};
use sqlx::error::ErrorKind;

use self::rows::{KEY_COLUMNS, KeyRow, TRAFFIC_COLUMNS, TrafficRow, bind_key, bind_traffic};
use crate::backend::{Admission, TrafficStore};
use crate::error::StoreError;
use crate::shared::{check_spend, decode_traffic};
use crate::sqlite::SqliteStore;
use crate::sqlite::{kind, marks, question};

/// Now as SQLite writes it: RFC 3339 UTC with milliseconds, like a traffic record's `at`.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// The `WHERE` clause of a filter and the text values it binds, in order (its `limit` and order
/// are left to the caller); `mark(i)` is the placeholder of the `i`th value (from 1).
pub(crate) fn where_clause(
    filter: &TrafficFilter,
    mark: impl Fn(usize) -> String,
) -> (String, Vec<&str>) {
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    for (column, op, value) in [
        ("component", "=", &filter.component),
        ("candidate", "=", &filter.candidate),
        ("role", "=", &filter.role),
        ("at", ">=", &filter.since),
    ] {
        if let Some(value) = value {
            binds.push(value.as_str());
            conditions.push(format!("{column} {op} {}", mark(binds.len())));
        }
    }
    if filter.ok_only {
        conditions.push("error IS NULL".to_owned());
    }
    if filter.errors_only {
        conditions.push("error IS NOT NULL".to_owned());
    }
    if conditions.is_empty() {
        (String::new(), binds)
    } else {
        (format!("WHERE {}", conditions.join(" AND ")), binds)
    }
}

impl SqliteStore {
    /// Inserts `records` in one transaction; with `skip_stored`, an id already stored is left
    /// alone (and reported `false`) instead of failing the batch.
    async fn insert_traffic(
        &self,
        records: &[TrafficRecord],
        skip_stored: bool,
    ) -> Result<Vec<bool>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Check every value before taking the write lock.
        let rows = records
            .iter()
            .map(TrafficRow::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let action = || format!("save {} traffic records", rows.len());
        // IMMEDIATE takes the write lock up front, so the busy timeout applies to it.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(self.query_error(action()))?;
        let sql = format!(
            "INSERT INTO traffic ({}) VALUES ({}){}",
            TRAFFIC_COLUMNS.join(", "),
            marks(TRAFFIC_COLUMNS.len()),
            if skip_stored {
                " ON CONFLICT(id) DO NOTHING"
            } else {
                ""
            }
        );
        let mut new = Vec::with_capacity(rows.len());
        for row in &rows {
            let result = bind_traffic!(sqlx::query(&sql), bind, row)
                .execute(&mut *tx)
                .await;
            // Returning drops `tx`, which rolls the batch back.
            match result {
                Ok(done) => new.push(done.rows_affected() == 1),
                Err(err) if kind(&err) == Some(ErrorKind::UniqueViolation) => {
                    return Err(StoreError::DuplicateTraffic {
                        path: self.path.clone(),
                        id: row.id.clone(),
                    });
                }
                Err(err) => return Err(self.query_error(action())(err)),
            }
        }
        tx.commit().await.map_err(self.query_error(action()))?;
        Ok(new)
    }
}

#[async_trait]
impl TrafficStore for SqliteStore {
    async fn put_traffic(&self, records: &[TrafficRecord]) -> Result<(), StoreError> {
        self.insert_traffic(records, false).await.map(|_| ())
    }

    async fn put_traffic_missing(
        &self,
        records: &[TrafficRecord],
    ) -> Result<Vec<bool>, StoreError> {
        self.insert_traffic(records, true).await
    }

    async fn traffic(&self, filter: &TrafficFilter) -> Result<Vec<TrafficRecord>, StoreError> {
        let (conditions, binds) = where_clause(filter, question);
        let order = if filter.newest_first {
            "ORDER BY at DESC, id DESC"
        } else {
            "ORDER BY at, id"
        };
        let sql = format!(
            "SELECT {} FROM traffic {conditions} {order} LIMIT ?",
            TRAFFIC_COLUMNS.join(", ")
        );
        let mut query = sqlx::query_as::<_, TrafficRow>(&sql);
        for value in binds {
            query = query.bind(value);
        }
        // LIMIT -1 is SQLite's "no limit".
        let limit = filter
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("read traffic records"))?;
        Ok(decode_traffic(rows, &self.path))
    }

    async fn count_traffic(&self, filter: &TrafficFilter) -> Result<u64, StoreError> {
        let (conditions, binds) = where_clause(filter, question);
        let sql = format!("SELECT COUNT(*) FROM traffic {conditions}");
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let n = query
            .fetch_one(&self.pool)
            .await
            .map_err(self.query_error("count traffic records"))?;
        // COUNT(*) is never negative.
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn put_key(&self, key: &GatewayKey) -> Result<(), StoreError> {
        let row = KeyRow::encode(key)?;
        let sql = format!(
            "INSERT INTO gateway_keys ({KEY_COLUMNS}) VALUES ({})",
            marks(9)
        );
        let result = bind_key!(sqlx::query(&sql), bind, row)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            // SQLite names the constraint: "UNIQUE constraint failed: gateway_keys.name".
            Err(err)
                if kind(&err) == Some(ErrorKind::UniqueViolation)
                    && err
                        .as_database_error()
                        .is_some_and(|db| db.message().ends_with("gateway_keys.name")) =>
            {
                Err(StoreError::DuplicateKey {
                    path: self.path.clone(),
                    name: key.name.clone(),
                })
            }
            Err(err) => Err(self.query_error(format!("save gateway key '{}'", key.name))(err)),
        }
    }

    async fn keys(&self) -> Result<Vec<GatewayKey>, StoreError> {
        let rows = sqlx::query_as::<_, KeyRow>(&format!(
            "SELECT {KEY_COLUMNS} FROM gateway_keys ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error("list gateway keys"))?;
        rows.into_iter().map(|row| row.decode(&self.path)).collect()
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<GatewayKey>, StoreError> {
        let row = sqlx::query_as::<_, KeyRow>(&format!(
            "SELECT {KEY_COLUMNS} FROM gateway_keys WHERE hash = ?"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        // Never the hash in a message: it is as good as a name for the secret.
        .map_err(self.query_error("look up a gateway key by its hash"))?;
        row.map(|row| row.decode(&self.path)).transpose()
    }

    async fn revoke_key(&self, id_or_name: &str) -> Result<bool, StoreError> {
        // The key with this id, else the one with this name: one statement, so no other writer
        // comes between the look-up and the update.
        let result = sqlx::query(&format!(
            "UPDATE gateway_keys SET revoked_at = COALESCE(revoked_at, {NOW}) \
             WHERE id = (SELECT id FROM gateway_keys WHERE id = ?1 OR name = ?1 \
             ORDER BY id = ?1 DESC LIMIT 1)"
        ))
        .bind(id_or_name)
        .execute(&self.pool)
        .await
        .map_err(self.query_error(format!("revoke gateway key '{id_or_name}'")))?;
        Ok(result.rows_affected() > 0)
    }

    async fn add_spend(&self, key_id: &str, usd: f64) -> Result<(), StoreError> {
        check_spend(key_id, usd)?;
        let result = sqlx::query("UPDATE gateway_keys SET spent_usd = spent_usd + ? WHERE id = ?")
            .bind(usd)
            .bind(key_id)
            .execute(&self.pool)
            .await
            .map_err(self.query_error(format!("add to the spend of gateway key '{key_id}'")))?;
        if result.rows_affected() == 0 {
            return Err(StoreError::KeyNotFound {
                path: self.path.clone(),
                key: key_id.to_owned(),
            });
        }
        Ok(())
    }

    async fn spent(&self, key_id: &str) -> Result<f64, StoreError> {
        let spent: Option<f64> =
            sqlx::query_scalar("SELECT spent_usd FROM gateway_keys WHERE id = ?")
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.query_error(format!("read the spend of gateway key '{key_id}'")))?;
        spent.ok_or_else(|| StoreError::KeyNotFound {
            path: self.path.clone(),
            key: key_id.to_owned(),
        })
    }

    async fn take_request(&self, key_id: &str, per_minute: u32) -> Result<Admission, StoreError> {
        let sql = bucket_sql(SQLITE_EPOCH, "min");
        let (taken, tokens): (bool, f64) = sqlx::query_as(&sql)
            .bind(key_id)
            .bind(f64::from(per_minute))
            .fetch_one(&self.pool)
            .await
            .map_err(self.query_error(format!("take a request from gateway key '{key_id}'")))?;
        Ok(Admission::of(taken, tokens, per_minute))
    }
}

/// Now in seconds since 1970 by SQLite's clock (milliseconds; the same within a statement).
const SQLITE_EPOCH: &str = "((julianday('now') - 2440587.5) * 86400.0)";

/// The one statement that takes a request from a key's bucket (`$1` the key's id, `$2` its
/// requests a minute as a float), returning whether it was taken and the tokens left: a new
/// bucket starts full; a stored one refills by the time since `at`, up to `$2`. `now` is the
/// backend's clock in seconds, `least` its two-argument minimum. Every `SET` reads the row as it
/// was, so the refill is worked out the same way in each.
pub(crate) fn bucket_sql(now: &str, least: &str) -> String {
    let refill = format!("{least}($2, key_buckets.tokens + ({now} - key_buckets.at) * $2 / 60.0)");
    format!(
        "INSERT INTO key_buckets (key_id, tokens, at, taken) \
         VALUES ($1, CASE WHEN $2 >= 1 THEN $2 - 1 ELSE $2 END, {now}, $2 >= 1) \
         ON CONFLICT (key_id) DO UPDATE SET \
         tokens = CASE WHEN {refill} >= 1 THEN {refill} - 1 ELSE {refill} END, \
         taken = {refill} >= 1, at = {now} \
         RETURNING taken, tokens"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_where_clause_binds_what_the_filter_sets_in_order() {
        let none = TrafficFilter::default();
        let (sql, binds) = where_clause(&none, question);
        assert_eq!(sql, "");
        assert!(binds.is_empty());
        let filter = TrafficFilter {
            component: Some("intent".into()),
            role: Some("shadow".into()),
            since: Some("2026-01-01T00:00:00.000Z".into()),
            ok_only: true,
            ..TrafficFilter::default()
        };
        let (sql, binds) = where_clause(&filter, question);
        assert_eq!(
            sql,
            "WHERE component = ? AND role = ? AND at >= ? AND error IS NULL"
        );
        assert_eq!(binds, ["intent", "shadow", "2026-01-01T00:00:00.000Z"]);
    }
}
