//! Canonical JSON (spec §2) against every vector in canonical-json.json.

use base64::Engine as _;
use pith::format::canon;

use crate::util::{data, json, pith, sha256_hex};

#[test]
fn every_canonical_vector_is_byte_exact() {
    let v = json("canonical-json.json");
    let cases = v["canonical"].as_array().unwrap();
    assert!(cases.len() >= 10, "vector file shrank");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let input = c["input"].as_str().unwrap();
        let want = c["output"].as_str().unwrap();
        let parsed =
            canon::parse(input.as_bytes()).unwrap_or_else(|e| panic!("{name}: refused: {e}"));
        let got = canon::to_canonical(&parsed);
        assert_eq!(String::from_utf8(got.clone()).unwrap(), want, "{name}");
        assert_eq!(
            sha256_hex(&got),
            c["sha256"].as_str().unwrap(),
            "{name}: sha256"
        );
        // canonical output is a fixed point
        assert_eq!(
            canon::to_canonical(&canon::parse(&got).unwrap()),
            got,
            "{name}: not idempotent"
        );
    }
    println!("canonical vectors: {} byte-exact", cases.len());
}

#[test]
fn every_reject_vector_is_refused_with_offset_and_path() {
    let v = json("canonical-json.json");
    let cases = v["reject"].as_array().unwrap();
    assert!(cases.len() >= 10, "vector file shrank");
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let input = base64::engine::general_purpose::STANDARD
            .decode(c["input_b64"].as_str().unwrap())
            .unwrap();
        match canon::parse(&input) {
            Ok(v) => panic!(
                "{name}: accepted as {}",
                String::from_utf8_lossy(&canon::to_canonical(&v))
            ),
            Err(e) => {
                assert!(
                    e.offset <= input.len(),
                    "{name}: offset {} past the end",
                    e.offset
                );
                assert!(e.path.starts_with('$'), "{name}: path {:?}", e.path);
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("at byte {}", e.offset)),
                    "{name}: {msg}"
                );
            }
        }
    }
    println!("reject vectors: {} refused", cases.len());
}

#[test]
fn cli_canon_prints_the_canonical_bytes_and_digest() {
    let v = json("canonical-json.json");
    for c in v["canonical"].as_array().unwrap() {
        let input = c["input"].as_str().unwrap().to_owned();
        let out = pith()
            .args(["canon", "-"])
            .write_stdin(input.clone())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\n", c["output"].as_str().unwrap())
        );
        let out = pith()
            .args(["canon", "--sha256"])
            .write_stdin(input)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\n", c["sha256"].as_str().unwrap())
        );
    }
}

#[test]
fn cli_canon_rejects_with_exit_2_and_names_the_byte() {
    let v = json("canonical-json.json");
    for c in v["reject"].as_array().unwrap() {
        let input = base64::engine::general_purpose::STANDARD
            .decode(c["input_b64"].as_str().unwrap())
            .unwrap();
        pith()
            .args(["canon", "-"])
            .write_stdin(input)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("<stdin>: not valid JSON at byte"));
    }
}

#[test]
fn canonical_form_of_the_real_bundle_reproduces_its_bundle_sha256() {
    // bundle_sha256 = sha256(canon(bundle without bundle_signature)) (spec §3)
    let mut b = crate::util::bundle();
    let want = b
        .get("bundle_signature")
        .unwrap()
        .get("bundle_sha256")
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    if let canon::Value::Object(m) = &mut b {
        m.remove("bundle_signature");
    }
    assert_eq!(sha256_hex(&canon::to_canonical(&b)), want);
    let _ = data("");
}

/// Every object and array of `v`, innermost first, replaced by its memo.
fn memo_all(v: canon::Value) -> canon::Value {
    use canon::Value;
    match v {
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, x)| (k, memo_all(x))).collect()).memo()
        }
        Value::Array(a) => Value::Array(a.into_iter().map(memo_all).collect()).memo(),
        other => other,
    }
}

/// The member at `path` (keys, or indexes written as numbers).
fn at<'v>(v: &'v canon::Value, path: &[&str]) -> &'v canon::Value {
    path.iter().fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v.as_array().unwrap()[i],
        Err(_) => v.get(k).unwrap(),
    })
}

#[test]
fn memoized_values_write_hash_and_compare_as_the_values_they_hold() {
    use pith::format::digest::canon_sha256_without;
    // bulk issuing writes a payload once (a memo) and copies it; the digests of
    // the real bundle must not change when every object and array in it is a memo
    let b = crate::util::bundle();
    let real = |path: &[&str]| at(&b, path).as_str().unwrap().to_owned();
    let bundle_sha = real(&["bundle_signature", "bundle_sha256"]);
    let state_sha = real(&["state", "state_sha256"]);
    let event_sha = real(&["events", "1", "content_sha256"]);
    assert!(bundle_sha.starts_with("757b3a92"));
    let m = memo_all(b.clone());
    assert!(matches!(m, canon::Value::Memo(_)));
    assert_eq!(canon::to_canonical(&m), canon::to_canonical(&b));
    assert_eq!(m, b);
    assert_eq!(b, m);
    assert_eq!(m.type_name(), "an object");
    // read through, at every depth
    let payload = ["events", "1", "payload"];
    assert!(matches!(at(&m, &payload), canon::Value::Memo(_)));
    assert_eq!(at(&m, &payload), at(&b, &payload));
    assert_eq!(
        at(&m, &["state", "state_sha256"]).as_str(),
        Some(state_sha.as_str())
    );
    assert_eq!(at(&m, &["events"]).as_array().map(Vec::len), Some(2));
    // the spec's digests (section 3), computed through memos, are the real ones
    assert_eq!(
        canon_sha256_without(&m, &["bundle_signature"]).hex(),
        bundle_sha
    );
    assert_eq!(
        canon_sha256_without(at(&m, &["state"]), &["state_sha256"]).hex(),
        state_sha
    );
    let event = at(&m, &["events", "1"]);
    let unhashed = ["signature", "content_sha256", "event_id"];
    assert_eq!(canon_sha256_without(event, &unhashed).hex(), event_sha);
    // mutating a memo thaws it (its bytes never go stale, the change is never lost); a
    // changed copy is not equal to it
    let mut thawed = m.clone();
    thawed
        .as_object_mut()
        .unwrap()
        .insert("built_at".into(), "2000-01-01T00:00:00Z".into());
    assert_ne!(canon::to_canonical(&thawed), canon::to_canonical(&m));
    assert!(canon::to_canonical(&thawed).starts_with(b"{\"built_at\":\"2000-01-01T00:00:00Z\""));
    let mut changed = b.clone();
    changed
        .as_object_mut()
        .unwrap()
        .insert("built_at".into(), "2000-01-01T00:00:00Z".into());
    assert_ne!(m, changed);
    assert_ne!(changed, m);
}
