//! Hostile input (issue 8): clear errors, bounded reads, nothing written outside the output.

use pith::canon;

use crate::util::{bundle, keyring_dir, pith};

#[test]
fn deep_nesting_and_binary_garbage_are_clear_errors() {
    let deep = vec![b'['; 1_000_000];
    pith()
        .args(["canon", "-"])
        .write_stdin(deep)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nesting deeper than 128"));
    let mut garbage = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push(x as u8);
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("garbage.bin");
    std::fs::write(&f, &garbage).unwrap();
    pith()
        .args(["verify", f.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "garbage.bin: not valid JSON at byte",
        ));
    pith()
        .args(["record", f.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("garbage.bin"));
}

#[test]
fn an_overlong_line_is_refused_unread_and_the_rest_verify() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b.jsonl");
    let line = canon::to_canonical(&bundle());
    let mut body = Vec::new();
    body.extend_from_slice(&line);
    body.push(b'\n');
    body.extend(std::iter::repeat_n(b' ', (17 << 20) as usize));
    body.extend_from_slice(b"{}\n");
    body.extend_from_slice(&line);
    body.push(b'\n');
    std::fs::write(&f, &body).unwrap();
    pith()
        .args([
            "verify",
            f.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--quiet",
        ])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "b.jsonl:2: FAILED line longer than 16 MiB",
        ))
        .stderr(predicates::str::contains("2 verified, 1 failed"));
}

#[test]
fn a_key_id_with_path_separators_is_refused_so_publish_stays_in_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(keyring_dir().join("pith-v1-2026-05.pub.json")).unwrap(),
    )
    .unwrap();
    doc["key_id"] = "../../escaped".into();
    std::fs::write(dir.path().join("evil.pub.json"), doc.to_string()).unwrap();
    let out = dir.path().join("site");
    pith()
        .args([
            "publish",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "$.key_id: expected 1-64 characters",
        ));
    assert!(!out.exists());
    assert!(!dir.path().join("escaped.json").exists());
}

#[test]
#[ignore = "long: 10 million tiny records through bulk verify (bounded memory)"]
fn ten_million_tiny_records() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tiny.jsonl");
    let mut body = Vec::with_capacity(30_000_000);
    for _ in 0..10_000_000 {
        body.extend_from_slice(b"[]\n");
    }
    std::fs::write(&f, &body).unwrap();
    pith()
        .args([
            "verify",
            f.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--quiet",
        ])
        .assert()
        .code(2);
}

#[test]
fn an_xml_entity_bomb_is_an_error_not_an_expansion() {
    let mut x = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE feed [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        x.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!(
                "&lol{};",
                if i == 1 {
                    String::new()
                } else {
                    (i - 1).to_string()
                }
            )
            .repeat(10)
        ));
    }
    x.push_str("]>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>http://arxiv.org/abs/2101.00001v1</id><title>&lol9;</title><summary>s</summary><published>2021-01-01T00:00:00Z</published><category term=\"cs.CR\"/></entry></feed>\n");
    let start = std::time::Instant::now();
    let r = pith::arxiv::read(
        x.as_bytes(),
        "bomb.xml",
        &pith::arxiv::ReadOptions::default(),
    );
    assert!(start.elapsed().as_secs() < 5);
    let e = r.expect_err("an entity bomb was accepted");
    assert!(e.message.contains("malformed XML"), "{e}");
}
