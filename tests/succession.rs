//! Re-signatures by a rotated-to key (spec §3): accepted as the signer's through a chain of
//! verified key transitions, refused from a key the signer's key was never rotated to.

use std::path::Path;

use pith::format::canon::{self, Value};
use pith::format::digest::canon_sha256_without;
use pith::format::time::Timestamp;
use pith::sign::issue::EventDraft;
use pith::trust::keys::{KeyDocument, b64_encode};
use pith::trust::secret::SigningKey;
use pith::trust::signer::{Domain, Signer};
use pith::verify::keyring::Keyring;

use crate::util::pith;

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn key(id: &str, seed: u8) -> SigningKey {
    SigningKey::from_seed(id, t("2026-01-01T00:00:00Z"), &[seed; 32])
}

fn write(dir: &Path, name: &str, v: &Value) {
    let mut b = canon::to_canonical(v);
    b.push(b'\n');
    std::fs::write(dir.join(name), b).unwrap();
}

/// A keyring A -> B (2026-03-01) -> C (2026-06-01), and an unrelated key D.
fn ring(dir: &Path) -> (SigningKey, SigningKey, SigningKey, SigningKey) {
    let (a, b, c, d) = (key("k-a", 1), key("k-b", 2), key("k-c", 3), key("k-d", 4));
    let from = t("2026-01-01T00:00:00Z");
    for k in [&a, &b, &c, &d] {
        let doc = KeyDocument::build(k.key_id(), k.public(), None, None, Some(&from));
        write(dir, &format!("{}.pub.json", k.key_id()), &doc);
    }
    let ab = pith::trust::statements::transition(
        &a,
        &b,
        &t("2026-03-01T00:00:00Z"),
        &t("2026-02-15T00:00:00Z"),
    )
    .unwrap();
    let bc = pith::trust::statements::transition(
        &b,
        &c,
        &t("2026-06-01T00:00:00Z"),
        &t("2026-05-15T00:00:00Z"),
    )
    .unwrap();
    write(dir, "k-a--k-b.transition.json", &ab);
    write(dir, "k-b--k-c.transition.json", &bc);
    (a, b, c, d)
}

fn event_by_a(dir: &Path, a: SigningKey) -> Value {
    let ring = Keyring::load(dir).unwrap();
    let auth = ring
        .authorize(Box::new(a), &t("2026-02-01T00:00:00Z"))
        .unwrap();
    let d = EventDraft {
        event_type: pith::format::rules::EventType::MirrorHint,
        subject: pith::format::digest::PithNumber::parse("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX")
            .unwrap(),
        payload: canon::object([("mirror", "https://mirror.example".into())]),
        created_at: t("2026-02-01T00:00:00Z"),
        supersedes: vec![],
        prev_event: None,
        signer_id: "pith.science".into(),
    };
    pith::sign::issue::sign_event(&d, &auth, &t("2026-02-01T00:00:00Z")).unwrap()
}

/// Re-sign `ev` with `k` at `signed_at` (the raw signature, as a key that is rotated out
/// by now once made it).
fn resigned(ev: &Value, k: &SigningKey, signed_at: &str) -> Value {
    let digest = canon_sha256_without(ev, &pith::format::rules::EVENT_UNHASHED);
    let sig = k.sign(&Domain::Event.message(&digest)).unwrap();
    let mut m = ev.as_object().unwrap().clone();
    m.insert(
        "signature".into(),
        canon::object([
            ("algorithm", "ed25519".into()),
            ("key_id", k.key_id().into()),
            ("public_key_fingerprint", k.public().fingerprint().into()),
            ("signature_b64", b64_encode(&sig).into()),
            ("signature_status", "signed_v1".into()),
            ("signed_at", signed_at.into()),
            ("signed_message", "open_graph_event_sha256_bytes".into()),
        ]),
    );
    Value::Object(m)
}

fn failures(dir: &Path, ev: &Value) -> Vec<String> {
    let ring = Keyring::load(dir).unwrap();
    let r = pith::verify::verify_value(ev, &ring, None).unwrap();
    r.failures.iter().map(ToString::to_string).collect()
}

#[test]
fn resigned_by_the_rotated_to_key_verifies_through_a_chain_of_two() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, d) = ring(tmp.path());
    let ev = event_by_a(tmp.path(), a);
    assert!(failures(tmp.path(), &ev).is_empty());
    // one rotation: B re-signs after it became valid
    let by_b = resigned(&ev, &b, "2026-04-01T00:00:00.000000Z");
    assert_eq!(failures(tmp.path(), &by_b), Vec::<String>::new());
    // two rotations: C re-signs
    let by_c = resigned(&ev, &c, "2026-07-01T00:00:00.000000Z");
    assert_eq!(failures(tmp.path(), &by_c), Vec::<String>::new());
    // an unrelated keyring key: refused, naming the signer mismatch
    let by_d = resigned(&ev, &d, "2026-07-01T00:00:00.000000Z");
    let f = failures(tmp.path(), &by_d);
    assert!(
        f.iter()
            .any(|x| x.contains("$.signer.public_key_fingerprint")),
        "{f:?}"
    );
    // and through the CLI: C is valid now, so `pith event resign` signs with it
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "succession\n").unwrap();
    let sealed = c
        .encrypt(&pith::trust::secret::Protection::Passphrase {
            passphrase: "succession".to_owned().into(),
            log_n: Some(10),
        })
        .unwrap();
    std::fs::write(tmp.path().join("k-c.key.age"), sealed).unwrap();
    let evf = tmp.path().join("ev.json");
    std::fs::write(&evf, canon::to_canonical(&ev)).unwrap();
    let out = pith()
        .args([
            "event",
            "resign",
            evf.to_str().unwrap(),
            "--key",
            tmp.path().join("k-c.key.age").to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let again = canon::parse(&out).unwrap();
    assert_eq!(again.get("event_id"), ev.get("event_id"));
    assert!(failures(tmp.path(), &again).is_empty());
    // B, rotated out, may no longer re-sign through the signing path
    let sealed = b
        .encrypt(&pith::trust::secret::Protection::Passphrase {
            passphrase: "succession".to_owned().into(),
            log_n: Some(10),
        })
        .unwrap();
    std::fs::write(tmp.path().join("k-b.key.age"), sealed).unwrap();
    pith()
        .args([
            "event",
            "resign",
            evf.to_str().unwrap(),
            "--key",
            tmp.path().join("k-b.key.age").to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "was rotated out at 2026-06-01T00:00:00Z",
        ));
}
