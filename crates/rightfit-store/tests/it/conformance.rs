//! Behaviour every [`rightfit_store::RunStore`] and [`rightfit_store::TrafficStore`] must have,
//! run against each backend by `backends!`: a SQLite file, SQLite in memory, and a
//! database of its own on the test PostgreSQL server.

mod records;
mod runs;
mod traffic;

use records::*;
use runs::*;
use traffic::*;

/// Makes one `#[tokio::test]` per behaviour for each backend.
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite_file {
            $(
                #[tokio::test]
                async fn $name() {
                    let (_dir, store, _path) = crate::support::file_store().await;
                    super::$name(&store).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = rightfit_testkit::postgres::TestDatabase::create().await;
                    let store = rightfit_store::PostgresStore::open(db.url()).await.unwrap();
                    super::$name(&store).await;
                    store.close().await;
                }
            )*
        }
        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = rightfit_store::SqliteStore::open_in_memory().await.unwrap();
                    super::$name(&store).await;
                    store.close().await;
                }
            )*
        }
    };
}

backends!(
    run_round_trips_every_field,
    creating_a_run_twice_is_refused,
    update_changes_what_a_run_changes_and_nothing_else,
    updating_an_unknown_run_is_not_found,
    runs_are_newest_first_by_component_and_limited,
    resolve_takes_latest_exact_ids_and_unique_prefixes,
    resolve_reports_ambiguous_prefixes_with_their_matches,
    resolve_prefixes_are_literal_not_patterns,
    latest_unfinished_is_the_newest_resumable_run_of_the_component,
    delete_takes_candidates_and_records_with_the_run,
    candidates_round_trip_and_upsert_keeps_their_place,
    candidates_need_their_run,
    records_round_trip_every_field,
    records_upsert_by_candidate_and_example,
    records_come_by_candidate_order_then_position,
    done_leaves_out_failed_examples_so_resume_retries_them,
    a_batch_with_a_bad_parent_writes_nothing,
    a_batch_with_a_non_finite_number_writes_nothing,
    a_batch_of_2000_records_is_written,
    cache_round_trips_and_replaces,
    traffic_round_trips_every_field,
    a_duplicate_id_fails_the_batch_and_names_the_id,
    missing_records_are_added_and_stored_ones_left_alone,
    traffic_input_nests_at_most_max_record_depth,
    a_batch_with_a_bad_value_writes_nothing,
    traffic_filters_select_and_order,
    a_batch_of_1000_traffic_records_is_written_in_one_call,
    keys_are_made_found_by_hash_and_listed,
    revoking_by_id_or_name_keeps_the_first_time,
    spend_adds_up_per_key,
    spent_reads_every_add_and_concurrent_adds_all_count,
    the_shared_bucket_admits_its_size_then_says_how_long_to_wait,
    concurrent_takes_never_share_a_token,
);
