// `sqlx::migrate!` embeds the migration files when this crate is compiled: rebuild it when
// one is added or changed (as `sqlx migrate build-script` would write).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
