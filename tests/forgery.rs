//! Cross-kind forgeries: a signature made for one kind of artifact must never verify as
//! another. The registry's kinds sign a bare digest with one key (spec §4), so each case
//! below is what an attacker gets by having pith sign one crafted object; each is refused
//! where pith would sign it and where pith verifies the forgery.

use pith::format::canon::{self, Map, Value};
use pith::format::digest::{Sha256Digest, canon_sha256, canon_sha256_without};
use pith::format::time::Timestamp;
use pith::trust::keys::b64_encode;
use pith::trust::secret::{SigningKey, Unlock};
use pith::trust::signer::{Domain, Signer};
use proptest::prelude::*;

use crate::util::{bundle, keyring, pith};

const KEY: &str = "keys.example/pith-example-2026-11.key.age";
const PASS: &str = "keys.example/example.passphrase";

fn example_key() -> SigningKey {
    let sealed = std::fs::read(KEY).unwrap();
    let pass = age::secrecy::SecretString::from("pith-example-only".to_owned());
    SigningKey::decrypt(&sealed, &Unlock::Passphrase(pass)).unwrap()
}

fn obj(v: &Value) -> Map {
    v.as_object().unwrap().clone()
}

/// The real record's members, merged into `other` (the attacker's object must pass as a
/// canonical record, so it carries `source`, `metadata` and `schema_version`).
fn with_record(other: Map) -> Value {
    let mut m = other;
    for (k, v) in obj(bundle().get("canonical_record").unwrap()) {
        m.insert(k, v);
    }
    Value::Object(m)
}

/// A forged graph snapshot's content: the real one with fabricated claims.
fn forged_event_content() -> Map {
    let b = bundle();
    let ev = b.get("events").unwrap().as_array().unwrap()[1].clone();
    let mut m = obj(&ev);
    for k in ["signature", "content_sha256", "event_id"] {
        m.remove(k);
    }
    let mut pl = obj(m.get("payload").unwrap());
    let mut gs = obj(pl.get("graph_snapshot").unwrap());
    let mut v = obj(gs.get("verdict").unwrap());
    v.insert(
        "strongest_claim".into(),
        "FORGED: results fabricated".into(),
    );
    gs.insert("verdict".into(), Value::Object(v));
    pl.insert("graph_snapshot".into(), Value::Object(gs));
    m.insert("payload".into(), Value::Object(pl));
    m
}

/// What the old pith's receipt gave the attacker: a signature by the registry key over
/// the crafted object's digest, as the registry's kinds sign it (raw 32 bytes).
fn registry_signature(key: &SigningKey, digest: &Sha256Digest, label: &str) -> Value {
    let sig = key.sign(&Domain::Receipt.message(digest)).unwrap();
    canon::object([
        ("algorithm", "ed25519".into()),
        ("key_id", key.key_id().into()),
        ("public_key_fingerprint", key.public().fingerprint().into()),
        ("signature_b64", b64_encode(&sig).into()),
        ("signature_status", "signed_v1".into()),
        ("signed_at", "2026-05-20T00:05:59.000000Z".into()),
        ("signed_message", label.into()),
    ])
}

fn issue_refuses(crafted: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("crafted.json");
    std::fs::write(&f, canon::to_canonical(crafted)).unwrap();
    let out = pith()
        .args([
            "issue",
            f.to_str().unwrap(),
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
            dir.path().join("l.sqlite").to_str().unwrap(),
        ])
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only the fields of a canonical record"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing signed");
}

fn verify_fails(v: &Value, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("forged.json");
    std::fs::write(&f, canon::to_canonical(v)).unwrap();
    let out = pith()
        .args(["verify", f.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(want), "{text}");
}

#[test]
fn record_to_event_refused_at_issue_and_at_verify() {
    let crafted = with_record(forged_event_content());
    issue_refuses(&crafted);
    // had it been signed: the receipt's signature is a valid event signature over the
    // same digest, but the event carries the record's fields, which no event has
    let key = example_key();
    let content = canon_sha256_without(&crafted, &["signature", "content_sha256", "event_id"]);
    assert_eq!(content, canon_sha256(&crafted));
    let mut ev = obj(&crafted);
    ev.insert("content_sha256".into(), content.hex().into());
    ev.insert(
        "event_id".into(),
        format!("sha256:{}", content.hex()).into(),
    );
    ev.insert(
        "signature".into(),
        registry_signature(&key, &content, "open_graph_event_sha256_bytes"),
    );
    let mut signer = obj(ev.get("signer").unwrap());
    signer.insert("key_id".into(), key.key_id().into());
    signer.insert(
        "public_key_fingerprint".into(),
        key.public().fingerprint().into(),
    );
    ev.insert("signer".into(), Value::Object(signer));
    // re-derive with the signer changed, as the attacker would craft it from the start
    let mut body = ev.clone();
    for k in ["signature", "content_sha256", "event_id"] {
        body.remove(k);
    }
    let content = canon_sha256(&Value::Object(body));
    ev.insert("content_sha256".into(), content.hex().into());
    ev.insert(
        "event_id".into(),
        format!("sha256:{}", content.hex()).into(),
    );
    ev.insert(
        "signature".into(),
        registry_signature(&key, &content, "open_graph_event_sha256_bytes"),
    );
    verify_fails(
        &Value::Object(ev),
        "FAIL $.metadata: expected only the fields of an event",
    );
}

#[test]
fn record_to_bundle_refused_at_issue_and_at_verify() {
    let b = bundle();
    let mut body = obj(&b);
    body.remove("bundle_signature");
    body.insert(
        "links".into(),
        canon::object([
            ("bundle", "https://evil.example/b.json".into()),
            ("resolver", "https://evil.example/".into()),
            ("state", "https://evil.example/s.json".into()),
            ("well_known_bundle", "https://evil.example/w.json".into()),
        ]),
    );
    let crafted = with_record(body);
    issue_refuses(&crafted);
    let key = example_key();
    let digest = canon_sha256(&crafted);
    let mut sig = obj(&registry_signature(&key, &digest, "bundle_sha256_bytes"));
    sig.insert("bundle_sha256".into(), digest.hex().into());
    let mut forged = obj(&crafted);
    forged.insert("bundle_signature".into(), Value::Object(sig));
    verify_fails(
        &Value::Object(forged),
        "FAIL $.metadata: expected only the fields of a bundle",
    );
}

#[test]
fn record_to_revocation_refused_at_issue_and_when_the_keyring_loads() {
    let key = example_key();
    let real = keyring();
    let target = real.by_id("pith-v1-2026-05").unwrap();
    let body = canon::object([
        ("statement_type", "pith_key_revocation".into()),
        ("statement_version", "1".into()),
        (
            "key",
            pith::trust::statements::key_ref("pith-v1-2026-05", &target.doc.key),
        ),
        ("revoked_at", "2026-01-01T00:00:00Z".into()),
        ("reason", "compromised".into()),
        ("created_at", "2026-11-30T00:00:00Z".into()),
    ]);
    let crafted = with_record(obj(&body));
    issue_refuses(&crafted);
    // a registry signature over a statement's digest is not a statement signature: pith's
    // own kinds sign a domain-framed message
    let digest = canon_sha256(&body);
    let mut st = obj(&body);
    st.insert("statement_sha256".into(), digest.hex().into());
    st.insert(
        "signatures".into(),
        Value::Array(vec![registry_signature(
            &key,
            &digest,
            "key_statement_sha256_bytes",
        )]),
    );
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir("keys.example").unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("pith-v1-2026-05.revocation.json"),
        canon::to_canonical(&Value::Object(st)),
    )
    .unwrap();
    let err = pith::verify::keyring::Keyring::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    // and the real bundle still verifies with the real keyring: nothing was revoked
    pith()
        .args([
            "verify",
            crate::util::bundle_path().to_str().unwrap(),
            "--keyring",
            "keys.example",
        ])
        .assert()
        .success();
}

#[test]
fn record_to_event_refused_by_the_offline_signer() {
    let key = example_key();
    let kr = pith::sign::issue::KeyRef {
        key_id: key.key_id().into(),
        fingerprint: key.public().fingerprint().into(),
    };
    let forged = Value::Object(forged_event_content());
    // an event item whose artifact is also a record
    let mut art = obj(&with_record(obj(&forged)));
    let mut signer = obj(art.get("signer").unwrap());
    signer.insert(
        "public_key_fingerprint".into(),
        kr.fingerprint.clone().into(),
    );
    signer.insert("key_id".into(), kr.key_id.clone().into());
    art.insert("signer".into(), Value::Object(signer));
    let art = Value::Object(art);
    let item = pith::sign::offline::Item {
        kind: pith::sign::offline::ItemKind::Event,
        subject: art
            .get("subject_pith_number")
            .and_then(Value::as_str)
            .unwrap()
            .into(),
        title: None,
        digest: canon_sha256_without(&art, &["signature", "content_sha256", "event_id"]),
        artifact: art,
    };
    let req = pith::sign::offline::request(&kr, &[item], &Timestamp::now());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("req.json");
    std::fs::write(&f, canon::to_canonical(&req)).unwrap();
    let out = pith()
        .args([
            "sign",
            f.to_str().unwrap(),
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--yes",
            "--log",
            dir.path().join("audit.jsonl").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("$.items[0].artifact.metadata") && err.contains("no such field"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert!(!dir.path().join("audit.jsonl").exists(), "nothing signed");
}

/// Every member name of the record, event and bundle kinds, with a real value for each.
fn pool() -> Vec<(String, Value)> {
    let b = bundle();
    let ev = b.get("events").unwrap().as_array().unwrap()[0].clone();
    let mut out: Vec<(String, Value)> = Vec::new();
    for src in [b.get("canonical_record").unwrap().clone(), ev, b.clone()] {
        for (k, v) in obj(&src) {
            if !out.iter().any(|(n, _)| *n == k) {
                out.push((k, v));
            }
        }
    }
    out
}

fn accepted_as(v: &Value) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    let mut ck = pith::verify::check::Checker::new(None);
    if pith::verify::check::record(&mut ck, Some(v), "$").is_some() && ck.ok() {
        kinds.push("record");
    }
    let mut ck = pith::verify::check::Checker::new(None);
    if pith::verify::check::event(&mut ck, v, "$", None).is_some() && ck.ok() {
        kinds.push("event");
    }
    let ring = keyring();
    if let Ok(r) = pith::verify::verify_value(v, &ring, None)
        && r.ok()
        && r.kind == pith::verify::Kind::Bundle
    {
        kinds.push("bundle");
    }
    kinds
}

#[test]
fn the_real_artifacts_are_each_exactly_one_kind() {
    let b = bundle();
    assert_eq!(accepted_as(b.get("canonical_record").unwrap()), ["record"]);
    assert_eq!(
        accepted_as(&b.get("events").unwrap().as_array().unwrap()[0]),
        ["event"]
    );
    assert_eq!(accepted_as(&b), ["bundle"]);
    // and no union of two of them is accepted as anything
    let rec = obj(b.get("canonical_record").unwrap());
    let ev = obj(&b.get("events").unwrap().as_array().unwrap()[0]);
    for (x, y) in [(&rec, &ev), (&rec, &obj(&b)), (&ev, &obj(&b))] {
        let mut u = x.clone();
        u.extend(y.clone());
        assert!(accepted_as(&Value::Object(u)).is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// No object built from the members of the three kinds is accepted as two.
    #[test]
    fn no_object_is_accepted_as_two_kinds(mask in any::<u64>()) {
        let pool = pool();
        let mut m = Map::new();
        for (i, (k, v)) in pool.iter().enumerate() {
            if mask >> (i % 64) & 1 == 1 {
                m.insert(k.clone(), v.clone());
            }
        }
        let kinds = accepted_as(&Value::Object(m));
        prop_assert!(kinds.len() <= 1, "{:?}", kinds);
    }
}
