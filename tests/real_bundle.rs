//! The live registry's bundle: it verifies, and merge rebuilds its state byte for byte.

use pith::format::canon::{self, Value};
use pith::format::digest::PithNumber;

use crate::util::{bundle, bundle_path, keyring, pith, sha256_hex};

#[test]
fn real_bundle_verifies_with_the_shipped_keyring() {
    let r = pith::verify::verify_value(&bundle(), &keyring(), None).unwrap();
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    assert_eq!(
        r.pith_number.as_deref(),
        Some("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX")
    );
    // the events were re-signed four days after created_at (spec §3): two notes, no more,
    // and no warning
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let paths: Vec<&str> = r.notes.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.events[0].signature.signed_at",
            "$.events[1].signature.signed_at"
        ]
    );
}

#[test]
fn merge_of_the_real_events_is_the_real_state_byte_for_byte() {
    let b = bundle();
    let events = b.get("events").and_then(Value::as_array).unwrap();
    let want = b.get("state").unwrap();
    let subject = PithNumber::parse(b.get("pith_number").and_then(Value::as_str).unwrap()).unwrap();
    let k = keyring();
    let merged =
        pith::verify::merge::merge(&subject, events, Some(&k), &|i| format!("$.events[{i}]"));
    assert!(merged.problems.is_empty(), "{:#?}", merged.problems);
    assert_eq!(
        String::from_utf8(canon::to_canonical(merged.state.value())).unwrap(),
        String::from_utf8(canon::to_canonical(want)).unwrap()
    );
    assert_eq!(
        merged.state.sha256().hex(),
        want.get("state_sha256").unwrap().as_str().unwrap()
    );
    // and the file's own state_sha256 is the hash of that state (spec §3)
    let mut st = merged.state.value().clone();
    let Value::Object(m) = &mut st else { panic!() };
    let claimed = m.remove("state_sha256").unwrap();
    assert_eq!(
        claimed.as_str().unwrap(),
        want.get("state_sha256").unwrap().as_str().unwrap()
    );
    assert!(claimed.as_str().unwrap().starts_with("b4331041"));
    assert_eq!(
        sha256_hex(&canon::to_canonical(&st)),
        claimed.as_str().unwrap()
    );
}

#[test]
fn real_digests_reproduce_from_the_file() {
    let b = bundle();
    let rec = b.get("canonical_record").unwrap();
    assert_eq!(
        sha256_hex(&canon::to_canonical(rec)),
        b.get("canonical_sha256").unwrap().as_str().unwrap()
    );
    for ev in b.get("events").and_then(Value::as_array).unwrap() {
        let Value::Object(mut m) = ev.clone() else {
            panic!()
        };
        let want = m.remove("content_sha256").unwrap();
        m.remove("signature");
        let id = m.remove("event_id").unwrap();
        let got = sha256_hex(&canon::to_canonical(&Value::Object(m)));
        assert_eq!(got, want.as_str().unwrap());
        assert_eq!(id.as_str().unwrap(), format!("sha256:{got}"));
    }
}

#[test]
fn every_component_round_trips_to_the_same_bytes() {
    // parse -> serialize keeps unknown fields and order-insensitive content
    let raw = std::fs::read(bundle_path()).unwrap();
    let b = bundle();
    let independent: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let Value::Object(m) = &b else { panic!() };
    for (k, v) in m {
        let again = canon::parse(&canon::to_canonical(v)).unwrap();
        assert_eq!(&again, v, "{k}");
        // serde_json sorts keys too (BTreeMap): same text for this file (no floats in it)
        assert_eq!(
            String::from_utf8(canon::to_canonical(v)).unwrap(),
            independent[k].to_string(),
            "{k}"
        );
    }
}

#[test]
fn cli_verify_real_bundle_exit_0_and_merge_prints_its_state() {
    pith()
        .args([
            "verify",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "keys.example",
        ])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "verified bundle pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX (2 note(s); --verbose shows them)",
        ));
    let b = bundle();
    let events = String::from_utf8(canon::to_canonical(b.get("events").unwrap())).unwrap();
    let out = pith()
        .args(["merge", "-", "--keyring", "keys.example"])
        .write_stdin(events)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut want = canon::to_canonical(b.get("state").unwrap());
    want.push(b'\n');
    assert_eq!(out, want);
}

#[test]
fn cli_merge_accepts_json_lines() {
    let b = bundle();
    let lines: String = b
        .get("events")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|e| format!("{}\n", String::from_utf8(canon::to_canonical(e)).unwrap()))
        .collect();
    let out = pith()
        .args(["merge", "-", "--keyring", "keys.example"])
        .write_stdin(lines)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        sha256_hex(out.strip_suffix(b"\n").unwrap()),
        sha256_hex(&canon::to_canonical(b.get("state").unwrap()))
    );
}

#[test]
fn assembling_the_real_events_reproduces_the_real_bundle_sha256() {
    // from the real bundle's two events, its key document, base URL https://pith.science and
    // built_at 2026-05-24T06:12:38Z, pith computes the bundle's bundle_sha256 (757b3a92…)
    let b = bundle();
    let events = b.get("events").and_then(Value::as_array).unwrap();
    let built = pith::format::time::Timestamp::parse("2026-05-24T06:12:38Z").unwrap();
    let unsigned = pith::sign::bundle::assemble(
        events,
        &keyring(),
        "https://pith.science",
        &built,
        Some("pith-v1-2026-05"),
    )
    .unwrap();
    let want = b
        .get("bundle_signature")
        .unwrap()
        .get("bundle_sha256")
        .unwrap()
        .as_str()
        .unwrap();
    assert!(want.starts_with("757b3a92"));
    assert_eq!(pith::sign::bundle::bundle_sha256(&unsigned).hex(), want);
    // and it is the real bundle without its signature, byte for byte
    let Value::Object(mut real) = b.clone() else {
        panic!()
    };
    real.remove("bundle_signature");
    assert_eq!(
        canon::to_canonical(&unsigned),
        canon::to_canonical(&Value::Object(real))
    );
}

#[test]
fn graph_snapshot_payload_is_rebuilt_byte_for_byte_from_its_inputs() {
    // inputs recovered from the real event: paper fields, the verdict, the operator's
    // opaque sections (with their snapshot_sha256, and the claims digest)
    let b = bundle();
    let ev = &b.get("events").and_then(Value::as_array).unwrap()[1];
    let real = ev.get("payload").unwrap();
    let g = real.get("graph_snapshot").unwrap();
    let p = g.get("paper").unwrap();
    let st = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap().to_owned();
    let paper = pith::arxiv::Paper {
        id: "2605.18404".into(),
        version: 1,
        versions: vec![],
        submitted_at: pith::format::time::Timestamp::parse(&st(p, "submitted_at")).unwrap(),
        title: st(p, "title"),
        abstract_text: st(p, "abstract_excerpt"),
        // given in another order: pith sorts them
        authors: {
            let mut a: Vec<String> = st(p, "authors_text")
                .split(", ")
                .map(str::to_owned)
                .collect();
            a.reverse();
            a
        },
        primary_cat: st(p, "primary_cat"),
        cross_cats_sorted: vec![],
        license: Some(st(p, "license")),
        withdrawn: false,
    };
    let v = g.get("verdict").unwrap();
    let Value::Object(mut verdict) = v.clone() else {
        panic!()
    };
    let headline = verdict.remove("pith_extraction_headline").unwrap();
    verdict.insert(
        "pith_extraction".into(),
        canon::object([("headline", headline)]),
    );
    let sections = canon::object([
        ("integrity", g.get("integrity").unwrap().clone()),
        ("references", g.get("references").unwrap().clone()),
        ("formal_canon", g.get("formal_canon").unwrap().clone()),
        ("author_claims", g.get("author_claims").unwrap().clone()),
        (
            "claims",
            canon::object([(
                "snapshot_sha256",
                g.get("claims")
                    .unwrap()
                    .get("snapshot_sha256")
                    .unwrap()
                    .clone(),
            )]),
        ),
    ]);
    let built = pith::sign::graph::payload(
        &paper,
        b.get("canonical_record").unwrap(),
        Some(&Value::Object(verdict)),
        Some(&sections),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(canon::to_canonical(&built)).unwrap(),
        String::from_utf8(canon::to_canonical(real)).unwrap()
    );
}

#[test]
fn typed_views_of_the_real_record_and_receipt_carry_the_files_facts() {
    let b = bundle();
    let rc = &b.get("events").and_then(Value::as_array).unwrap()[0];
    let payload = rc.get("payload").unwrap();
    let record = pith::record(payload.get("canonical_record").unwrap().clone()).unwrap();
    assert_eq!(
        record.number().to_string(),
        "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX"
    );
    assert_eq!(
        record.sha256().hex(),
        b.get("canonical_sha256").unwrap().as_str().unwrap()
    );
    assert_eq!(
        sha256_hex(&canon::to_canonical(record.value())),
        record.sha256().hex()
    );
    let receipt = payload.get("receipt").unwrap().clone();
    let k = keyring();
    let got = pith::verify_receipt(receipt.clone(), &record, &k).unwrap();
    assert_eq!(
        got.first_computed_at().to_string(),
        receipt.get("first_computed_at").unwrap().as_str().unwrap()
    );
    assert_eq!(
        got.signer(),
        receipt
            .get("public_key_fingerprint")
            .unwrap()
            .as_str()
            .unwrap()
    );
    // the same receipt over another record is not a receipt of it
    let mut other = payload.get("canonical_record").unwrap().clone();
    let Value::Object(m) = &mut other else {
        panic!()
    };
    let Some(Value::Object(src)) = m.get_mut("source") else {
        panic!()
    };
    src.insert("version".into(), Value::Int(9));
    let other = pith::record(other).unwrap();
    let e = pith::verify_receipt(receipt.clone(), &other, &k).unwrap_err();
    assert!(
        e.failures.iter().any(|f| f.path == "$.canonical_sha256"),
        "{e:?}"
    );
    // a record with a field records do not define is no record, and the path says where
    let mut extra = payload.get("canonical_record").unwrap().clone();
    let Value::Object(m) = &mut extra else {
        panic!()
    };
    m.insert("event_type".into(), "graph_snapshot".into());
    let f = pith::record(extra).unwrap_err();
    assert_eq!(f.path, "$.event_type", "{f:?}");
}
