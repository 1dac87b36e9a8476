//! Signing requests and responses: review, sign and apply never panic on any input.
#![no_main]
use std::sync::OnceLock;
static KEY: OnceLock<pith::secret::SigningKey> = OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = KEY.get_or_init(|| pith::secret::SigningKey::from_seed("pith-example-2026-11", pith::time::Timestamp::now(), &[1u8; 32]));
    let (a, b) = data.split_at(data.len() / 2);
    if let Ok(req) = pith::canon::parse(a) {
        let _ = pith::offline::review(&req, &pith::issue::KeyRef::from(key));
        let _ = pith::offline::sign(&req, key, &pith::time::Timestamp::now());
        if let Ok(resp) = pith::canon::parse(b) {
            let ring = pith::keys::Keyring::new();
            let _ = pith::offline::apply(&req, &resp, &ring);
        }
    }
});
