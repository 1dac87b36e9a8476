//! Canonical JSON (spec §2) against every vector in canonical-json.json.

use base64::Engine as _;
use pith::canon;

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
