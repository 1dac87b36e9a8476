//! The key-validity policy, at the library level: every signing entry point refuses a key
//! that is revoked, rotated out or not yet valid at the artifact's protected time.

use pith::format::canon::{self, Value};
use pith::format::time::Timestamp;
use pith::sign::issue::EventDraft;
use pith::trust::keys::KeyDocument;
use pith::trust::secret::SigningKey;
use pith::trust::signer::SignError;
use pith::verify::keyring::Keyring;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn write(dir: &std::path::Path, name: &str, v: &Value) {
    std::fs::write(dir.join(name), canon::to_canonical(v)).unwrap();
}

/// K: valid 2026-01-01 .. rotates 2026-06-01. R: revoked from 2026-04-01 (signed by K).
fn ring(dir: &std::path::Path) -> Keyring {
    let k = SigningKey::from_seed("k", t("2026-01-01T00:00:00Z"), &[11; 32]);
    let r = SigningKey::from_seed("r", t("2026-01-01T00:00:00Z"), &[12; 32]);
    let mut kd = KeyDocument::build(
        "k",
        k.public(),
        None,
        None,
        Some(&t("2026-01-01T00:00:00Z")),
    );
    kd.as_object_mut()
        .unwrap()
        .insert("rotates_at".into(), "2026-06-01T00:00:00Z".into());
    write(dir, "k.pub.json", &kd);
    let rd = KeyDocument::build(
        "r",
        r.public(),
        None,
        None,
        Some(&t("2026-01-01T00:00:00Z")),
    );
    write(dir, "r.pub.json", &rd);
    let rev = pith::trust::statements::revocation(
        "r",
        r.public(),
        &t("2026-04-01T00:00:00Z"),
        pith::trust::statements::Reason::Compromised,
        &k,
        &t("2026-05-01T00:00:00Z"),
    )
    .unwrap();
    write(dir, "r.revocation.json", &rev);
    Keyring::load(dir).unwrap()
}

fn draft(at: &str) -> EventDraft {
    EventDraft {
        event_type: pith::format::rules::EventType::MirrorHint,
        subject: pith::format::digest::PithNumber::parse("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX")
            .unwrap(),
        payload: canon::object([("mirror", "https://m.example".into())]),
        created_at: t(at),
        supersedes: vec![],
        prev_event: None,
        signer_id: "pith.science".into(),
    }
}

fn refused(r: Result<impl std::fmt::Debug, SignError>, want: &str) {
    match r {
        Err(SignError::NotValid(m)) => assert!(m.contains(want), "{m}"),
        other => panic!("expected a refusal containing {want:?}, got {other:?}"),
    }
}

#[test]
fn a_key_outside_its_window_signs_nothing_through_any_entry_point() {
    let tmp = tempfile::tempdir().unwrap();
    let ring = ring(tmp.path());
    let k = || {
        Box::new(SigningKey::from_seed(
            "k",
            t("2026-01-01T00:00:00Z"),
            &[11; 32],
        ))
    };
    let r = || {
        Box::new(SigningKey::from_seed(
            "r",
            t("2026-01-01T00:00:00Z"),
            &[12; 32],
        ))
    };
    // admission: rotated out, not yet valid, revoked; times in the message, no Debug text
    refused(
        ring.authorize(k(), &t("2026-07-01T00:00:00Z")),
        "was rotated out at 2026-06-01T00:00:00Z",
    );
    refused(
        ring.authorize(k(), &t("2025-12-01T00:00:00Z")),
        "is valid only from 2026-01-01T00:00:00Z",
    );
    refused(
        ring.authorize(r(), &t("2026-05-01T00:00:00Z")),
        "was revoked at 2026-04-01T00:00:00Z (compromised)",
    );
    // admitted now, yet each artifact is checked at its own protected time
    let auth = ring.authorize(k(), &t("2026-02-01T00:00:00Z")).unwrap();
    let late = t("2026-07-01T00:00:00Z");
    refused(
        pith::sign::issue::sign_event(&draft("2026-07-01T00:00:00Z"), &auth, &late),
        "rotated out",
    );
    refused(
        pith::sign::issue::sign_event_owned(draft("2025-12-01T00:00:00Z"), &auth, &late),
        "valid only from",
    );
    let sha = pith::format::digest::sha256(b"x");
    refused(
        pith::sign::issue::receipt(&auth, &sha, &late, &late, &late),
        "rotated out",
    );
    let ok = pith::sign::issue::sign_event(
        &draft("2026-02-01T00:00:00Z"),
        &auth,
        &t("2026-02-01T00:00:00Z"),
    )
    .unwrap();
    refused(
        pith::sign::issue::resign_event(&ok, &auth, &late),
        "rotated out",
    );
    let unsigned = canon::object([("built_at", "2026-07-01T00:00:00Z".into())]);
    refused(
        pith::sign::bundle::sign(unsigned.clone(), &auth, &late),
        "rotated out",
    );
    refused(
        pith::sign::bundle::sign_to_bytes(&unsigned, &auth, &late),
        "rotated out",
    );
    // a secret that is not its document's key is refused at admission
    let other = Box::new(SigningKey::from_seed(
        "k",
        t("2026-01-01T00:00:00Z"),
        &[13; 32],
    ));
    refused(
        ring.authorize(other, &t("2026-02-01T00:00:00Z")),
        "is not in the keyring",
    );
    let mut trusted = ring.by_id("k").unwrap().clone();
    trusted.doc.key_id = "other-id".into();
    refused(
        pith::trust::policy::Authorized::new(k(), trusted, &t("2026-02-01T00:00:00Z")),
        "names key id",
    );
}

#[test]
fn an_offline_request_is_refused_by_the_library_when_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let ring = ring(tmp.path());
    let auth = ring
        .authorize(
            Box::new(SigningKey::from_seed(
                "k",
                t("2026-01-01T00:00:00Z"),
                &[11; 32],
            )),
            &t("2026-02-01T00:00:00Z"),
        )
        .unwrap();
    let kr = pith::sign::issue::KeyRef::from(&auth);
    let ev = pith::sign::issue::unsigned_event(&draft("2026-02-01T00:00:00Z"), &kr);
    let item = pith::sign::offline::Item {
        kind: pith::sign::offline::ItemKind::Event,
        subject: "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX".into(),
        title: None,
        digest: pith::format::digest::canon_sha256_without(
            &ev,
            &pith::format::rules::EVENT_UNHASHED,
        ),
        artifact: ev,
    };
    let req = pith::sign::offline::request(&kr, &[item], &t("2026-02-01T00:00:00Z"));
    let log = tmp.path().join("audit.jsonl");
    let now = t("2026-02-02T00:00:00Z");
    pith::sign::offline::sign_logged(&req, &auth, &log, &now).unwrap();
    let again = pith::sign::offline::sign_logged(&req, &auth, &log, &now).unwrap_err();
    assert!(
        again
            .to_string()
            .contains("already signed at 2026-02-02T00:00:00Z"),
        "{again}"
    );
    // the audit log is signed as an audit log: it verifies as one, not as a transcript
    let lines = pith::verify::merge::read_events(&std::fs::read(&log).unwrap()).unwrap();
    assert!(pith::verify::verify_transcript(&lines, &ring).ok());
}
