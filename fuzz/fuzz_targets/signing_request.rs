//! Signing requests and responses: review, sign and apply never panic on any input.
#![no_main]
use std::sync::OnceLock;
static KEY: OnceLock<pith::trust::secret::SigningKey> = OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = KEY.get_or_init(|| pith::trust::secret::SigningKey::from_seed("pith-example-2026-11", pith::format::time::Timestamp::now(), &[1u8; 32]));
    let (a, b) = data.split_at(data.len() / 2);
    if let Ok(req) = pith::format::canon::parse(a) {
        let _ = pith::sign::offline::review(&req, &pith::sign::issue::KeyRef::from(key));
        let _ = pith::sign::offline::sign(&req, key, &pith::format::time::Timestamp::now());
        if let Ok(resp) = pith::format::canon::parse(b) {
            let ring = pith::verify::keyring::Keyring::new();
            let _ = pith::sign::offline::apply(&req, &resp, &ring);
        }
    }
});
