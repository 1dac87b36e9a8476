//! Registry export lines: import never panics on any input, and refuses all of it or
//! loads all of it (an import is one transaction).
#![no_main]
static RING: std::sync::OnceLock<pith::verify::keyring::Keyring> = std::sync::OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir()).unwrap();
    let path = dir.path().join("l.sqlite");
    let mut l = pith::registry::ledger::Ledger::open(&path).unwrap();
    let ring = RING.get_or_init(|| {
        pith::verify::keyring::Keyring::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../keys.example"))).unwrap()
    });
    let mut lines = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| pith::format::canon::parse(l).map_err(|e| e.to_string()));
    let res = l.import(&mut lines, ring);
    let (records, receipts, sigs) = l.counts().unwrap();
    let (events, versions, bundles) = l.store_counts().unwrap();
    if res.is_err() {
        assert_eq!(records + receipts + sigs + events + versions + bundles, 0, "a refused import left rows");
    }
});
