//! Bad input: each a clear error naming the place and what was expected, never a panic.

use pith::format::canon::{self, Value};
use pith::format::digest::PithNumber;
use pith::verify::keyring::{Keyring, KeyringError};

use crate::util::{at, bundle, bundle_path, keyring, keyring_dir, pith, show, walk};

#[test]
fn every_truncation_of_the_real_bundle_is_refused_with_an_offset() {
    let raw = std::fs::read(bundle_path()).unwrap();
    let end = raw.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap() + 1;
    for cut in 0..end {
        let e = canon::parse(&raw[..cut]).expect_err("a truncated bundle parsed");
        assert!(e.offset <= cut, "cut {cut}: offset {}", e.offset);
    }
}

#[test]
fn cli_truncated_file_exits_2_naming_file_and_byte() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cut.json");
    let raw = std::fs::read(bundle_path()).unwrap();
    std::fs::write(&f, &raw[..raw.len() / 2]).unwrap();
    pith()
        .args(["verify", f.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "cut.json: not valid JSON at byte",
        ));
}

/// A value of another type than `v`.
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::String("x".into()),
        Value::Array(_) => Value::Object(Default::default()),
        Value::String(_) => Value::Int(7),
        Value::Int(_) | Value::Float(_) => Value::String("7".into()),
        Value::Bool(_) => Value::String("true".into()),
        Value::Null => Value::Array(Vec::new()),
        Value::Memo(m) => wrong_type(m.value()),
    }
}

#[test]
fn wrong_types_at_every_level_of_a_bundle_fail_with_a_path() {
    let original = bundle();
    let k = keyring();
    let mut nodes = Vec::new();
    walk(&original, Vec::new(), &mut nodes);
    let mut n = 0;
    for (path, node) in nodes.iter().skip(1) {
        let mut copy = original.clone();
        *at(&mut copy, path) = wrong_type(node);
        let r = pith::verify::verify_value(&copy, &k, None).unwrap();
        let p = show(path);
        assert!(!r.failures.is_empty(), "{p} as another type verified");
        assert!(
            r.failures
                .iter()
                .all(|f| f.path.starts_with('$') && !f.expected.is_empty()),
            "{p}: {:?}",
            r.failures
        );
        n += 1;
    }
    println!("wrong types: {n} copies, each failed with JSON paths");
    // the top level itself
    let e = pith::verify::verify_value(&Value::Array(vec![original]), &k, None).unwrap_err();
    assert!(e.to_string().contains("the top level is an array"), "{e}");
}

#[test]
fn event_about_another_record_is_rejected_as_wrong_subject() {
    let b = bundle();
    let events = b.get("events").and_then(Value::as_array).unwrap();
    let other = PithNumber::parse("pith:2026:AAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    let k = keyring();
    let merged =
        pith::verify::merge::merge(&other, events, Some(&k), &|i| format!("$.events[{i}]"));
    assert_eq!(merged.problems.len(), 2);
    for fs in merged.problems.values() {
        let f = fs
            .iter()
            .find(|f| f.code == "wrong_subject")
            .expect("wrong_subject finding");
        assert_eq!(f.path.rsplit('.').next(), Some("subject_pith_number"));
        assert!(
            f.expected.contains("pith:2026:AAAAAAAAAAAAAAAAAAAAAAAAAA"),
            "{f}"
        );
    }
    // in a bundle, an event naming another record is caught even before its hash
    let mut copy = b.clone();
    *at(
        &mut copy,
        &[
            crate::util::Step::Key("events".into()),
            crate::util::Step::Index(1),
            crate::util::Step::Key("subject_pith_number".into()),
        ],
    ) = Value::String("pith:2026:AAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    let r = pith::verify::verify_value(&copy, &k, None).unwrap();
    assert!(
        r.failures
            .iter()
            .any(|f| f.code == "wrong_subject" && f.path == "$.events[1].subject_pith_number"),
        "{:#?}",
        r.failures
    );
}

fn key_doc() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(keyring_dir().join("pith-v1-2026-05.pub.json")).unwrap())
        .unwrap()
}

#[test]
fn key_document_with_wrong_fingerprint_is_refused() {
    let mut d = key_doc();
    d["fingerprint_sha256_hex"] = "00000000000000000000000000000000".into();
    let v = canon::parse(d.to_string().as_bytes()).unwrap();
    let r = pith::verify::verify_value(&v, &keyring(), None).unwrap();
    assert!(
        r.failures
            .iter()
            .any(|f| f.path == "$.fingerprint_sha256_hex"
                && f.expected.contains("8d4b5ee74e4693bcd1df2446408b0d54")),
        "{:#?}",
        r.failures
    );
    // and a keyring holding it does not load
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.pub.json"), d.to_string()).unwrap();
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(matches!(e, KeyringError::Invalid { .. }), "{e:?}");
    assert!(
        e.to_string().contains("k.pub.json") && e.to_string().contains("$.fingerprint_sha256_hex"),
        "{e}"
    );
    pith()
        .args([
            "verify",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            dir.path().to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "k.pub.json: $.fingerprint_sha256_hex: expected",
        ));
}

#[test]
fn keyring_with_malformed_or_unreadable_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        keyring_dir().join("pith-v1-2026-05.pub.json"),
        dir.path().join("good.pub.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("bad.pub.json"), "{\"key_id\": ").unwrap();
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(
        e.to_string().contains("bad.pub.json") && e.to_string().contains("at byte 11"),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("bad.pub.json")).unwrap();
    // a directory where a key file should be is not a regular file
    std::fs::create_dir(dir.path().join("dir.pub.json")).unwrap();
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(
        matches!(e, KeyringError::File(pith::io::IoError::NotRegular { .. }))
            && e.to_string().contains("dir.pub.json"),
        "{e}"
    );
    std::fs::remove_dir(dir.path().join("dir.pub.json")).unwrap();
    // a FIFO (which would block a reader forever), a link to /dev/zero (which never ends)
    // and an oversized file are refused unread: the hostile keyring entries
    let fifo = dir.path().join("x.pub.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(
        matches!(e, KeyringError::File(pith::io::IoError::NotRegular { .. })),
        "{e}"
    );
    std::fs::remove_file(&fifo).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.pub.json")).unwrap();
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(
        matches!(e, KeyringError::File(pith::io::IoError::NotRegular { .. })),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("zero.pub.json")).unwrap();
    std::fs::write(dir.path().join("big.pub.json"), vec![b' '; (64 << 10) + 1]).unwrap();
    let e = Keyring::load(dir.path()).unwrap_err();
    assert!(
        matches!(e, KeyringError::File(pith::io::IoError::Oversized { .. })),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("big.pub.json")).unwrap();
    // an empty or missing directory
    let empty = tempfile::tempdir().unwrap();
    assert!(
        Keyring::load(empty.path())
            .unwrap_err()
            .to_string()
            .contains("holds no key document")
    );
    pith()
        .args([
            "verify",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "no/such/dir",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "cannot read keyring directory no/such/dir",
        ));
}

#[test]
fn wrong_type_key_document_fields_name_the_path() {
    let mut d = key_doc();
    d["public_key_b64"] = 5.into();
    let v = canon::parse(d.to_string().as_bytes()).unwrap();
    let r = pith::verify::verify_value(&v, &keyring(), None).unwrap();
    assert!(
        r.failures.iter().any(|f| f.path == "$.public_key_b64"),
        "{:#?}",
        r.failures
    );
}

#[test]
fn a_checked_in_keyring_entry_linked_to_dev_zero_is_refused_unread() {
    // tests/data/hostile/keyring-dev-zero/zero.pub.json is a symbolic link to /dev/zero,
    // kept in git: reading it would never end
    let started = std::time::Instant::now();
    pith()
        .args([
            "verify",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "tests/data/hostile/keyring-dev-zero",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("zero.pub.json"));
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}
