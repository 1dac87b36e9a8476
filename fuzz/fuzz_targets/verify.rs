//! Bundle / state / event / receipt / statement parsing and verification: never panics.
#![no_main]
use std::sync::OnceLock;
static RING: OnceLock<pith::verify::keyring::Keyring> = OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let ring = RING.get_or_init(|| pith::verify::keyring::Keyring::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../keys.example"))).expect("keys.example"));
    if let Ok(v) = pith::format::canon::parse(data) {
        let _ = pith::verify::verify_value(&v, ring, None);
        let _ = pith::verify::merge::read_events(data);
    }
});
