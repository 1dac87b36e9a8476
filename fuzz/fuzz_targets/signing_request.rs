//! Signing requests and responses: review, sign and apply never panic on any input, and
//! the review as printed never carries a control or bidi character.
#![no_main]
use std::sync::OnceLock;
static KEY: OnceLock<pith::trust::policy::Authorized> = OnceLock::new();
static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = KEY.get_or_init(|| {
        let k = pith::trust::secret::SigningKey::from_seed("pith-example-2026-11", pith::format::time::Timestamp::now(), &[1u8; 32]);
        let doc = pith::trust::keys::KeyDocument::build(k.key_id(), k.public(), None, None, None);
        let doc = pith::trust::keys::KeyDocument::from_value(&doc, "$").unwrap();
        let t = pith::trust::keys::TrustedKey { doc, revoked: None, file: "fuzz".into() };
        pith::trust::policy::Authorized::new(Box::new(k), t, &pith::format::time::Timestamp::now()).unwrap()
    });
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let (a, b) = data.split_at(data.len() / 2);
    if let Ok(req) = pith::format::canon::parse(a) {
        if let Ok(r) = pith::sign::offline::review(&req, &pith::sign::issue::KeyRef::from(key)) {
            for (kind, subject, title) in &r.items {
                for s in [kind, subject, title] {
                    let v = pith::format::text::visible_line(s);
                    assert!(!v.chars().any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)), "{v:?}");
                }
            }
        }
        let log = dir.path().join("audit.jsonl");
        let _ = pith::sign::offline::sign_logged(&req, key, &log, &pith::format::time::Timestamp::now());
        let _ = std::fs::remove_file(&log);
        if let Ok(resp) = pith::format::canon::parse(b) {
            let ring = pith::verify::keyring::Keyring::new();
            let _ = pith::sign::offline::apply(&req, &resp, &ring);
        }
    }
});
