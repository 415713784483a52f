// Release builds embed `web/dist/` (see src/web.rs); rebuild when the UI is rebuilt, since
// the embedding macro cannot tell cargo about files added under it.
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
    println!("cargo:rerun-if-changed=build.rs");
    // `sqlx::migrate!` embeds the migrations; a new file must rebuild the crate as well.
    println!("cargo:rerun-if-changed=migrations");
}
