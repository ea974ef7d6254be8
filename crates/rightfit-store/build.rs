//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds `migrations/` and `migrations-postgres/` at
//! compile time, and Cargo does not otherwise know to watch that directory.

#[allow(clippy::print_stdout)] // build scripts talk to Cargo through stdout
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-postgres");
}
