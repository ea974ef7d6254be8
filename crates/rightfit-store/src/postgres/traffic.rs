//! The [`TrafficStore`] of [`PostgresStore`]: the gateway's traffic log, its keys and the keys'
//! shared rate-limit buckets. Traffic is written with multi-row `INSERT`s (up to [`CHUNK`] rows a
//! statement, every chunk of a batch in one transaction), so one round trip carries many records.

use std::collections::HashSet;

use async_trait::async_trait;
use rightfit_types::{GatewayKey, TrafficFilter, TrafficRecord};
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgDatabaseError, Postgres};
use sqlx::{QueryBuilder, Row};

use super::{PostgresStore, dollar, marks};
use crate::backend::{Admission, TrafficStore};
use crate::error::StoreError;
use crate::shared::{check_spend, decode_traffic};
use crate::sqlite::kind;
use crate::traffic::rows::{
    KEY_COLUMNS, KeyRow, TRAFFIC_COLUMNS, TrafficRow, bind_key, bind_traffic,
};
use crate::traffic::{bucket_sql, where_clause};

/// Records per `INSERT` statement: 26 values each, well under Postgres's 65,535 binds.
const CHUNK: usize = 1_000;

/// Now as a traffic record's `at` is written: RFC 3339 UTC with milliseconds.
const NOW: &str = "to_char(statement_timestamp() AT TIME ZONE 'UTC', \
     'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// Now in seconds since 1970 by the database's clock (the same within a statement).
const EPOCH: &str = "extract(epoch from statement_timestamp())::float8";

/// The id a unique violation names in its detail: `Key (id)=(req_1) already exists.`
fn duplicate_id(err: &sqlx::Error) -> Option<String> {
    let detail = err
        .as_database_error()?
        .try_downcast_ref::<PgDatabaseError>()?
        .detail()?;
    let rest = detail.strip_prefix("Key (id)=(")?;
    Some(rest.strip_suffix(") already exists.")?.to_owned())
}

impl PostgresStore {
    /// Inserts `records` in one transaction; with `skip_stored`, an id already stored (or earlier
    /// in the batch) is left alone and reported `false` instead of failing the batch.
    async fn insert_traffic(
        &self,
        records: &[TrafficRecord],
        skip_stored: bool,
    ) -> Result<Vec<bool>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let rows = records
            .iter()
            .map(TrafficRow::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let action = || format!("save {} traffic records", rows.len());
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.query_error(action()))?;
        let mut inserted = HashSet::new();
        for chunk in rows.chunks(CHUNK) {
            let mut insert = QueryBuilder::<Postgres>::new(format!(
                "INSERT INTO traffic ({}) ",
                TRAFFIC_COLUMNS.join(", ")
            ));
            insert.push_values(chunk, |mut b, row| {
                bind_traffic!(b, push_bind, row);
            });
            if skip_stored {
                insert.push(" ON CONFLICT (id) DO NOTHING");
            }
            insert.push(" RETURNING id");
            // Returning drops `tx`, which rolls the batch back.
            match insert.build().fetch_all(&mut *tx).await {
                Ok(done) => {
                    for row in done {
                        inserted.insert(
                            row.try_get::<String, _>(0)
                                .map_err(self.query_error(action()))?,
                        );
                    }
                }
                Err(err) if kind(&err) == Some(ErrorKind::UniqueViolation) => {
                    return Err(StoreError::DuplicateTraffic {
                        path: self.path.clone(),
                        id: duplicate_id(&err).unwrap_or_else(|| "(not named)".to_owned()),
                    });
                }
                Err(err) => return Err(self.query_error(action())(err)),
            }
        }
        tx.commit().await.map_err(self.query_error(action()))?;
        // The first record of each inserted id is the new one; a repeat in the batch is not.
        Ok(rows.iter().map(|row| inserted.remove(&row.id)).collect())
    }
}

#[async_trait]
impl TrafficStore for PostgresStore {
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
        let (conditions, binds) = where_clause(filter, dollar);
        let order = if filter.newest_first {
            "ORDER BY at DESC, id DESC"
        } else {
            "ORDER BY at, id"
        };
        let sql = format!(
            "SELECT {} FROM traffic {conditions} {order} LIMIT ${}",
            TRAFFIC_COLUMNS.join(", "),
            binds.len() + 1
        );
        let mut query = sqlx::query_as::<_, TrafficRow>(&sql);
        for value in binds {
            query = query.bind(value);
        }
        // LIMIT NULL is Postgres's "no limit".
        let limit = filter.limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("read traffic records"))?;
        Ok(decode_traffic(rows, &self.path))
    }

    async fn count_traffic(&self, filter: &TrafficFilter) -> Result<u64, StoreError> {
        let (conditions, binds) = where_clause(filter, dollar);
        let sql = format!("SELECT COUNT(*) FROM traffic {conditions}");
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let n = query
            .fetch_one(&self.pool)
            .await
            .map_err(self.query_error("count traffic records"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn put_key(&self, key: &GatewayKey) -> Result<(), StoreError> {
        let row = KeyRow::encode(key)?;
        let sql = format!(
            "INSERT INTO gateway_keys ({KEY_COLUMNS}) VALUES ({})",
            marks(1, 9)
        );
        let result = bind_key!(sqlx::query(&sql), bind, row)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if kind(&err) == Some(ErrorKind::UniqueViolation)
                    && err
                        .as_database_error()
                        .and_then(|db| db.constraint())
                        .is_some_and(|c| c == "gateway_keys_name") =>
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
            "SELECT {KEY_COLUMNS} FROM gateway_keys WHERE hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        // Never the hash in a message: it is as good as a name for the secret.
        .map_err(self.query_error("look up a gateway key by its hash"))?;
        row.map(|row| row.decode(&self.path)).transpose()
    }

    async fn revoke_key(&self, id_or_name: &str) -> Result<bool, StoreError> {
        // The key with this id, else the one with this name, in one statement.
        let result = sqlx::query(&format!(
            "UPDATE gateway_keys SET revoked_at = COALESCE(revoked_at, {NOW}) \
             WHERE id = (SELECT id FROM gateway_keys WHERE id = $1 OR name = $1 \
             ORDER BY id = $1 DESC LIMIT 1)"
        ))
        .bind(id_or_name)
        .execute(&self.pool)
        .await
        .map_err(self.query_error(format!("revoke gateway key '{id_or_name}'")))?;
        Ok(result.rows_affected() > 0)
    }

    async fn add_spend(&self, key_id: &str, usd: f64) -> Result<(), StoreError> {
        check_spend(key_id, usd)?;
        // One statement: concurrent adds from several gateways each land.
        let result =
            sqlx::query("UPDATE gateway_keys SET spent_usd = spent_usd + $1 WHERE id = $2")
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
            sqlx::query_scalar("SELECT spent_usd FROM gateway_keys WHERE id = $1")
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
        let (taken, tokens): (bool, f64) = sqlx::query_as(&bucket_sql(EPOCH, "LEAST"))
            .bind(key_id)
            .bind(f64::from(per_minute))
            .fetch_one(&self.pool)
            .await
            .map_err(self.query_error(format!("take a request from gateway key '{key_id}'")))?;
        Ok(Admission::of(taken, tokens, per_minute))
    }
}
