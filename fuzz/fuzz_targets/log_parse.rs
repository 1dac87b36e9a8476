//! The log's readers: signed notes, checkpoint bodies, proof documents, entry bundles and
//! checkpoint verification never panic, and what parses is written back byte for byte.
#![no_main]
static RING: std::sync::OnceLock<pith::verify::keyring::Keyring> = std::sync::OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use pith::format::note::{Checkpoint, Note};
    let ring = RING.get_or_init(|| {
        pith::verify::keyring::Keyring::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../keys.example"))).unwrap()
    });
    if let Ok(n) = Note::parse(data) {
        assert_eq!(n.text().as_bytes(), data, "a note parsed is its own text");
        if let Ok(c) = Checkpoint::parse_body(&n.body) {
            assert_eq!(c.body(), n.body, "one form per checkpoint");
        }
    }
    let _ = pith::verify::checkpoint::verify_checkpoint(data, ring, "pith.science/log", &pith::format::time::Timestamp::now());
    if let Ok(v) = pith::format::canon::parse(data) {
        if let Ok(p) = pith::verify::log::InclusionProofs::from_value(&v) {
            assert_eq!(pith::verify::log::InclusionProofs::from_value(&p.to_value()).unwrap(), p);
        }
    }
    for w in [1u64, 2, 255, 256] {
        if let Some(es) = pith::registry::tiles::read_entry_bundle(data, w) {
            assert_eq!(pith::registry::tiles::entry_bundle(es.iter().copied()).unwrap(), data);
        }
    }
});
