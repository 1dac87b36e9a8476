//! Events, merge, bundles and the resolver tree.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use pith::format::canon::{self, Value};
use pith::format::digest::PithNumber;
use pith::format::time::Timestamp;
use pith::sign::issue::EventDraft;
use pith::trust::keys::KeyDocument;
use pith::trust::policy::Authorized;
use pith::trust::secret::SigningKey;
use pith::verify::keyring::Keyring;

use crate::util::{bundle, pith};

pub(crate) fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

/// A signing key from a fixed seed, and a keyring directory holding its document.
pub(crate) struct Fixture {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) key: Authorized,
    pub(crate) raw: SigningKey,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed("pith-test-2026-01", t("2026-01-01T00:00:00Z"), &[7u8; 32]);
        let dir = tmp.path().join("keys");
        std::fs::create_dir(&dir).unwrap();
        let doc = KeyDocument::build(key.key_id(), key.public(), None, None, None);
        std::fs::write(
            dir.join("pith-test-2026-01.pub.json"),
            canon::to_canonical(&doc),
        )
        .unwrap();
        let raw = SigningKey::from_seed("pith-test-2026-01", t("2026-01-01T00:00:00Z"), &[7u8; 32]);
        Fixture {
            tmp,
            key: crate::util::authorized(key),
            raw,
        }
    }
    pub(crate) fn keys(&self) -> PathBuf {
        self.tmp.path().join("keys")
    }
    pub(crate) fn ring(&self) -> Keyring {
        Keyring::load(&self.keys()).unwrap()
    }
    fn file(&self, name: &str, v: &Value) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::write(&p, canon::to_canonical(v)).unwrap();
        p
    }
}

fn record() -> Value {
    bundle().get("canonical_record").unwrap().clone()
}

pub(crate) fn number() -> PithNumber {
    PithNumber::parse("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX").unwrap()
}

pub(crate) fn record_created(k: &Authorized, at: &str) -> Value {
    let rec = record();
    let (sha, n) = pith::sign::issue::number_of(&rec).unwrap();
    let receipt = pith::sign::issue::receipt(k, &sha, &t(at), &t(at), &t(at)).unwrap();
    let d = EventDraft {
        event_type: pith::format::rules::EventType::RecordCreated,
        subject: n,
        payload: pith::sign::issue::record_created_payload(&rec, &sha, receipt),
        created_at: t(at),
        supersedes: vec![],
        prev_event: None,
        signer_id: "pith.science".into(),
    };
    pith::sign::issue::sign_event(&d, k, &t(at)).unwrap()
}

pub(crate) fn event(
    k: &Authorized,
    kind: &str,
    target: &str,
    at: &str,
    payload: Value,
    prev: Option<&Value>,
    supersedes: &[&Value],
) -> Value {
    let id = |e: &Value| {
        e.get("event_id")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    };
    let event_type = pith::format::rules::EventType::parse(kind).unwrap();
    assert_eq!(event_type.target(), target);
    let d = EventDraft {
        event_type,
        subject: number(),
        payload,
        created_at: t(at),
        supersedes: supersedes.iter().map(|e| id(e)).collect(),
        prev_event: prev.map(id),
        signer_id: "pith.science".into(),
    };
    pith::sign::issue::sign_event(&d, k, &t(at)).unwrap()
}

fn merged(ring: &Keyring, evs: &[Value]) -> Value {
    pith::verify::merge::merge(&number(), evs, Some(ring), &|i| format!("$[{i}]"))
        .state
        .into_value()
}

#[test]
fn merge_is_order_independent_and_applies_supersedes() {
    let f = Fixture::new();
    let rc = record_created(&f.key, "2026-02-01T00:00:00Z");
    let a1 = event(
        &f.key,
        "author_attestation",
        "author_attestation",
        "2026-02-02T00:00:00Z",
        canon::object([("author", "A".into())]),
        None,
        &[],
    );
    let fix = event(
        &f.key,
        "correction",
        "correction",
        "2026-02-03T00:00:00Z",
        canon::object([("note", "typo".into())]),
        None,
        &[&a1],
    );
    let anchor = event(
        &f.key,
        "timestamp_anchor",
        "timestamp_anchor",
        "2026-02-03T00:00:00Z",
        canon::object([("proof", "x".into())]),
        None,
        &[],
    );
    let evs = vec![rc.clone(), a1.clone(), fix.clone(), anchor.clone()];
    let ring = f.ring();
    let want = canon::to_canonical(&merged(&ring, &evs));
    // every rotation and the reversal give the same state
    for r in 0..evs.len() {
        let mut e = evs.clone();
        e.rotate_left(r);
        assert_eq!(canon::to_canonical(&merged(&ring, &e)), want);
        e.reverse();
        assert_eq!(canon::to_canonical(&merged(&ring, &e)), want);
    }
    let st = merged(&ring, &evs);
    let cur = st.get("current").unwrap();
    // the superseded attestation is gone from current, the correction is there
    assert_eq!(
        cur.get("author_attestations")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        cur.get("corrections")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        cur.get("timestamp_anchors")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(st.get("valid_event_count").and_then(Value::as_int), Some(4));
    // a duplicate is counted once
    let mut dup = evs.clone();
    dup.push(a1.clone());
    assert_eq!(canon::to_canonical(&merged(&ring, &dup)), want);
}

#[test]
fn bad_signature_goes_to_invalid_events_and_same_prev_is_an_equivocation() {
    let f = Fixture::new();
    let ring = f.ring();
    let rc = record_created(&f.key, "2026-02-01T00:00:00Z");
    let mut bad = event(
        &f.key,
        "storage_attestation",
        "storage_attestation",
        "2026-02-02T00:00:00Z",
        canon::object([("where", "s3".into())]),
        None,
        &[],
    );
    let sig = bad
        .as_object_mut()
        .unwrap()
        .get_mut("signature")
        .unwrap()
        .as_object_mut()
        .unwrap();
    let other = pith::trust::signer::Signer::sign(
        &f.raw,
        &pith::trust::signer::Domain::Event
            .message(&pith::format::digest::sha256(b"something else")),
    )
    .unwrap();
    sig.insert(
        "signature_b64".into(),
        pith::trust::keys::b64_encode(&other).into(),
    );
    let st = merged(&ring, &[rc.clone(), bad.clone()]);
    let inv = st.get("invalid_events").and_then(Value::as_array).unwrap();
    assert_eq!(inv.len(), 1);
    assert_eq!(
        inv[0].get("reason").and_then(Value::as_str),
        Some("bad_signature")
    );
    assert_eq!(inv[0].get("event_id"), bad.get("event_id"));
    // two events from one signer, same target, same non-null prev_event
    let c1 = event(
        &f.key,
        "citation_signature",
        "citation_signature",
        "2026-02-02T00:00:00Z",
        canon::object([("n", 1i64.into())]),
        Some(&rc),
        &[],
    );
    let c2 = event(
        &f.key,
        "citation_signature",
        "citation_signature",
        "2026-02-03T00:00:00Z",
        canon::object([("n", 2i64.into())]),
        Some(&rc),
        &[],
    );
    let st = merged(&ring, &[c2.clone(), rc.clone(), c1.clone()]);
    let eq = st.get("equivocations").and_then(Value::as_array).unwrap();
    assert_eq!(eq.len(), 1);
    assert_eq!(
        eq[0].get("event_ids"),
        Some(&Value::Array(vec![
            c1.get("event_id").unwrap().clone(),
            c2.get("event_id").unwrap().clone()
        ]))
    );
    assert_eq!(
        st.get("equivocation_count").and_then(Value::as_int),
        Some(1)
    );
    assert_eq!(
        st.get("current")
            .unwrap()
            .get("citation_signatures")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn cli_event_sign_resign_bundle_verify_and_pithref_agrees() {
    let f = Fixture::new();
    // a key file for the CLI: the fixture key, age-encrypted
    let pass = f.tmp.path().join("pass");
    std::fs::write(&pass, "fixture pass\n").unwrap();
    let sealed = f
        .raw
        .encrypt(&pith::trust::secret::Protection::Passphrase {
            passphrase: "fixture pass".to_owned().into(),
            log_n: Some(10),
        })
        .unwrap();
    let keyfile = f.tmp.path().join("k.key.age");
    std::fs::write(&keyfile, sealed).unwrap();
    let now = Timestamp::now().fmt_seconds();
    let rc = record_created(&f.key, &now);
    let rcf = f.file("rc.json", &rc);
    let payload = f.file(
        "payload.json",
        &canon::object([("mirror", "https://example.org".into())]),
    );
    let sign = |args: &[&str]| -> Value {
        let mut c = pith();
        c.args(args).args([
            "--key",
            keyfile.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--keyring",
            f.keys().to_str().unwrap(),
        ]);
        canon::parse(&c.assert().success().get_output().stdout).unwrap()
    };
    let hint = sign(&[
        "event",
        "sign",
        "--type",
        "mirror_hint",
        "--subject",
        "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
        "--payload",
        payload.to_str().unwrap(),
    ]);
    assert_eq!(
        hint.get("target").and_then(Value::as_str),
        Some("mirror_hint")
    );
    let hf = f.file("hint.json", &hint);
    std::thread::sleep(std::time::Duration::from_millis(2));
    let again = sign(&["event", "resign", hf.to_str().unwrap()]);
    assert_eq!(again.get("event_id"), hint.get("event_id"));
    assert_ne!(again.get("signature"), hint.get("signature"));
    let af = f.file("again.json", &again);
    let k = f.keys();
    pith()
        .args([
            "verify",
            af.to_str().unwrap(),
            "--keyring",
            k.to_str().unwrap(),
        ])
        .assert()
        .success();
    // bad type and bad subject are usage errors
    pith()
        .args([
            "event",
            "sign",
            "--type",
            "record_created",
            "--subject",
            "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
            "--payload",
            payload.to_str().unwrap(),
            "--key",
            keyfile.to_str().unwrap(),
        ])
        .assert()
        .code(2);
    let b = sign(&["bundle", rcf.to_str().unwrap(), af.to_str().unwrap()]);
    let bf = f.file("bundle.json", &b);
    pith()
        .args([
            "verify",
            bf.to_str().unwrap(),
            "--keyring",
            k.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("verified bundle"));
    pith()
        .args(["verify", bf.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(1);
    // a second, independent implementation
    let Some(pithref) = crate::util::pithref() else {
        return;
    };
    let out = std::process::Command::new("python3")
        .arg(&pithref)
        .args([
            "verify",
            bf.to_str().unwrap(),
            "--pubkey-b64",
            &f.key.public().b64(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pithref: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn http_get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| buf[i + 4..].to_vec())
        .unwrap_or_default();
    (code, body)
}

#[test]
fn publish_tree_is_served_at_every_manifest_url() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    pith()
        .args([
            "publish",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "keys.example",
            "--out",
            o,
        ])
        .assert()
        .success();
    // deterministic: a second run writes nothing
    pith()
        .args([
            "publish",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "keys.example",
            "--out",
            o,
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("0 file(s) written"));
    let real = std::fs::read(crate::util::bundle_path()).unwrap();
    let served = std::fs::read(
        out.path()
            .join("pith/USNR7PI7ZDEQNRM6DFJQ3IZ4SX/bundle.json"),
    )
    .unwrap();
    assert_eq!(canon::parse(&served).unwrap(), canon::parse(&real).unwrap());
    // a tampered bundle is not published
    let mut b = bundle();
    b.as_object_mut()
        .unwrap()
        .insert("built_at".into(), "2026-05-25T00:00:00Z".into());
    let bad = out.path().join("bad.json");
    std::fs::write(&bad, canon::to_canonical(&b)).unwrap();
    pith()
        .args([
            "publish",
            bad.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--out",
            o,
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not publishing"));
    // serve it on 127.0.0.1 with a static server and fetch every URL of the manifest
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Ok(mut server) = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            o,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        crate::util::available(
            false,
            "python3 (its http.server serves the tree)",
            "PITH_REQUIRE_PYTHON",
        );
        return;
    };
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed().as_secs() < 20,
            "static server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let manifest =
        canon::parse(&std::fs::read(out.path().join("pith-mirrors.json")).unwrap()).unwrap();
    let m = &manifest.get("mirrors").and_then(Value::as_array).unwrap()[0];
    let base = m
        .get("base_url")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let mut checked = 0;
    for p in ["bundle_pattern", "state_pattern", "well_known_pattern"] {
        let url = m
            .get(p)
            .and_then(Value::as_str)
            .unwrap()
            .replace("{suffix}", "USNR7PI7ZDEQNRM6DFJQ3IZ4SX");
        let path = url.strip_prefix(&base).unwrap();
        let (code, body) = http_get(port, path);
        assert_eq!(code, 200, "{path}");
        assert!(canon::parse(&body).is_ok(), "{path}");
        checked += 1;
    }
    for p in [
        "/pith-signing-key.json",
        "/pith-mirrors.json",
        "/keys/pith-v1-2026-05.json",
    ] {
        assert_eq!(http_get(port, p).0, 200, "{p}");
        checked += 1;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(checked, 6);
    let _ = Path::new("");
}

#[test]
fn spliced_bundle_bytes_equal_the_canonical_form_of_the_signed_bundle() {
    let b = bundle();
    let events = b.get("events").and_then(Value::as_array).unwrap();
    let built = t("2026-05-24T06:12:38Z");
    let unsigned = pith::sign::bundle::assemble(
        events,
        &crate::util::keyring(),
        "https://pith.science",
        &built,
        Some("pith-v1-2026-05"),
    )
    .unwrap();
    let k = crate::util::authorized(SigningKey::from_seed("pith-v1-2026-05", built, &[5u8; 32]));
    let (d, bytes) =
        pith::sign::bundle::sign_to_bytes(&unsigned, &k, &t("2026-05-24T06:12:38.500000Z"))
            .unwrap();
    assert_eq!(
        bytes,
        canon::to_canonical(
            &pith::sign::bundle::sign(unsigned.clone(), &k, &t("2026-05-24T06:12:38.500000Z"))
                .unwrap()
        )
    );
    assert_eq!(d, pith::sign::bundle::bundle_sha256(&unsigned));
}

#[test]
fn tamper_sweep_of_a_fresh_bundle_with_four_event_kinds() {
    // a freshly issued bundle: record_created, a graph snapshot, and three other kinds
    let f = Fixture::new();
    let at = "2026-03-01T00:00:00Z";
    let rc = record_created(&f.key, at);
    let paper = pith::arxiv::Paper {
        id: "2605.18404".into(),
        version: 1,
        versions: vec![],
        submitted_at: t("2026-05-18T13:45:58Z"),
        title: "JanusPipe: Efficient Pipeline Parallel Training for Machine Learning Interatomic Potentials".into(),
        abstract_text: "An abstract.".into(),
        authors: vec!["B Author".into(), "A Author".into()],
        primary_cat: "cs.DC".into(),
        cross_cats_sorted: vec![],
        license: None,
        withdrawn: false,
    };
    let graph = event(
        &f.key,
        "graph_snapshot",
        "graph",
        at,
        pith::sign::graph::payload(&paper, &record(), None, None).unwrap(),
        None,
        &[],
    );
    let a = event(
        &f.key,
        "author_attestation",
        "author_attestation",
        "2026-03-02T00:00:00Z",
        canon::object([("orcid", "0000-0002-1825-0097".into())]),
        None,
        &[],
    );
    let anchor = event(
        &f.key,
        "timestamp_anchor",
        "timestamp_anchor",
        "2026-03-03T00:00:00Z",
        canon::object([("proof", "ots:1".into())]),
        None,
        &[],
    );
    let store = event(
        &f.key,
        "storage_attestation",
        "storage_attestation",
        "2026-03-04T00:00:00Z",
        canon::object([("cid", "bafy".into())]),
        None,
        &[],
    );
    let ring = f.ring();
    let built = t("2026-03-05T00:00:00Z");
    let unsigned = pith::sign::bundle::assemble(
        &[rc, graph, a, anchor, store],
        &ring,
        "https://pith.example",
        &built,
        Some("pith-test-2026-01"),
    )
    .unwrap();
    let b = pith::sign::bundle::sign(unsigned, &f.key, &t("2026-03-05T00:00:00.250000Z")).unwrap();
    assert!(pith::verify::verify_value(&b, &ring, None).unwrap().ok());
    let sw = crate::tamper::sweep(&b, &ring, &["$.bundle_signature.signed_at"]);
    println!(
        "fresh tamper sweep: {} leaves, {} renames, {} removals, {} missed",
        sw.leaves,
        sw.renames,
        sw.removals,
        sw.missed.len()
    );
    assert!(sw.missed.is_empty(), "{}", sw.missed.join("\n"));
    assert!(sw.leaves > 100);
}

#[test]
fn publish_never_moves_a_served_paper_back() {
    let f = Fixture::new();
    let rc = record_created(&f.key, "2026-02-01T00:00:00Z");
    let anchor = event(
        &f.key,
        "correction",
        "correction",
        "2026-03-01T00:00:00Z",
        canon::object([("note", "a correction".into())]),
        None,
        &[],
    );
    let v1 = pith::sign::bundle::sign(
        pith::sign::bundle::assemble(
            std::slice::from_ref(&rc),
            &f.ring(),
            "https://pith.science",
            &t("2026-02-02T00:00:00Z"),
            Some("pith-test-2026-01"),
        )
        .unwrap(),
        &f.key,
        &t("2026-02-02T00:00:00Z"),
    )
    .unwrap();
    let v2 = pith::sign::bundle::sign(
        pith::sign::bundle::assemble(
            &[rc, anchor],
            &f.ring(),
            "https://pith.science",
            &t("2026-03-02T00:00:00Z"),
            Some("pith-test-2026-01"),
        )
        .unwrap(),
        &f.key,
        &t("2026-03-02T00:00:00Z"),
    )
    .unwrap();
    // the rollback pair, kept as fixtures (deterministic: fixed key, times and signatures)
    for (name, b) in [("rollback-v1.json", &v1), ("rollback-v2.json", &v2)] {
        let p = crate::util::data(&format!("hostile/{name}"));
        if std::env::var_os("PITH_REGENERATE_FIXTURES").is_some() {
            std::fs::write(&p, canon::to_canonical(b)).unwrap();
        }
        assert_eq!(std::fs::read(&p).unwrap(), canon::to_canonical(b), "{name}");
    }
    let (b1, b2) = (f.file("v1.json", &v1), f.file("v2.json", &v2));
    let out = f.tmp.path().join("tree");
    let publish = |files: &[&PathBuf]| {
        let mut c = pith();
        c.arg("publish");
        for x in files {
            c.arg(x);
        }
        c.args([
            "--keyring",
            f.keys().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        c.assert()
    };
    publish(&[&b2]).success();
    let served = std::fs::read(out.join("pith").join(v2_code(&v2)).join("bundle.json")).unwrap();
    // across runs: the older bundle is refused and the served one stays
    publish(&[&b1])
        .code(1)
        .stderr(predicates::str::contains(
            "would roll the served paper back",
        ))
        .stderr(predicates::str::contains("missing from it"));
    // in one run: v2 then v1 ends refused, v2 still served
    publish(&[&b2, &b1]).code(1);
    assert_eq!(
        std::fs::read(out.join("pith").join(v2_code(&v2)).join("bundle.json")).unwrap(),
        served
    );
    // v1 then v2 moves forward
    let out2 = f.tmp.path().join("tree2");
    let mut c = pith();
    c.args([
        "publish",
        b1.to_str().unwrap(),
        b2.to_str().unwrap(),
        "--keyring",
        f.keys().to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
    ]);
    c.assert().success();
    // a symlinked pith/ directory is not written through
    let out3 = f.tmp.path().join("tree3");
    std::fs::create_dir(&out3).unwrap();
    let elsewhere = f.tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out3.join("pith")).unwrap();
    pith()
        .args([
            "publish",
            b2.to_str().unwrap(),
            "--keyring",
            f.keys().to_str().unwrap(),
            "--out",
            out3.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("is a symbolic link"));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

fn v2_code(b: &Value) -> String {
    b.get("pith_number")
        .and_then(Value::as_str)
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn supersedes_removes_only_what_is_already_applied() {
    let f = Fixture::new();
    let rc = record_created(&f.key, "2026-02-01T00:00:00Z");
    let late = event(
        &f.key,
        "author_attestation",
        "author_attestation",
        "2026-02-05T00:00:00Z",
        canon::object([("author", "B".into())]),
        None,
        &[],
    );
    let early = event(
        &f.key,
        "author_attestation",
        "author_attestation",
        "2026-02-02T00:00:00Z",
        canon::object([("author", "A".into())]),
        None,
        &[],
    );
    // a correction made before `late` names both
    let fix = event(
        &f.key,
        "correction",
        "correction",
        "2026-02-03T00:00:00Z",
        canon::object([("note", "x".into())]),
        None,
        &[&late, &early],
    );
    let st = merged(&f.ring(), &[rc, late.clone(), early, fix]);
    let atts = st
        .get("current")
        .and_then(|c| c.get("author_attestations"))
        .and_then(Value::as_array)
        .unwrap();
    // `early` was applied before the correction and is removed; `late` comes after it
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].get("event_id"), late.get("event_id"));
}

/// Render `url` in headless Chromium: its DOM after load, and a PNG screenshot.
fn chromium(url: &str, png: &Path) -> Option<String> {
    let bin = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })?;
    let run = |extra: &[String]| {
        std::process::Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(format!(
                "--user-data-dir={}",
                png.with_extension("profile").display()
            ))
            .args(extra)
            .arg(url)
            .output()
            .unwrap()
    };
    let shot = run(&[
        format!("--screenshot={}", png.display()),
        "--window-size=900,700".into(),
    ]);
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let dom = run(&["--dump-dom".into()]);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    Some(String::from_utf8(dom.stdout).unwrap())
}

#[test]
fn paper_pages_render_in_a_browser_with_hostile_titles_shown_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let first = std::fs::read_to_string("tests/data/arxiv/snapshot-head200.jsonl")
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let mut rec: serde_json::Value = serde_json::from_str(&first).unwrap();
    let hostile =
        "<script>document.title='pwned'</script> Tom & \"Jerry\" <b>bold</b> \u{202e}evil";
    rec["title"] = hostile.into();
    let input = tmp.path().join("r.jsonl");
    std::fs::write(&input, format!("{rec}\n")).unwrap();
    let bundles = tmp.path().join("b.jsonl");
    pith()
        .args([
            "issue",
            input.to_str().unwrap(),
            "--bundle",
            "--keyring",
            "keys.example",
        ])
        .args(["--key", "keys.example/pith-example-2026-11.key.age"])
        .args(["--passphrase-file", "keys.example/example.passphrase"])
        .args([
            "--default-license",
            "http://example.org/l",
            "--out",
            bundles.to_str().unwrap(),
        ])
        .assert()
        .success();
    let site = tmp.path().join("site");
    pith()
        .args([
            "publish",
            bundles.to_str().unwrap(),
            "--keyring",
            "keys.example",
        ])
        .args(["--out", site.to_str().unwrap()])
        .assert()
        .success();
    let b = canon::parse(std::fs::read(&bundles).unwrap().trim_ascii()).unwrap();
    let n = b
        .get("pith_number")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let code = n.rsplit(':').next().unwrap();
    let html = std::fs::read_to_string(site.join(format!("pith/{code}/index.html"))).unwrap();
    // escaped in the file: no markup from the title, the bidi override made visible
    assert!(
        !html.contains("<script>") && !html.contains("<b>bold"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("Tom &amp; &quot;Jerry&quot;") && html.contains("\\u{202e}evil"),
        "{html}"
    );
    assert!(site.join("index.html").exists());
    let png = tmp.path().join("page.png");
    let url = format!(
        "file://{}",
        site.join(format!("pith/{code}/index.html")).display()
    );
    let Some(dom) = chromium(&url, &png) else {
        assert!(util_available_chromium(), "unreachable");
        return;
    };
    // the browser built no script or bold element from the title, kept the page's own
    // title, and shows the title, the number, the receipt and how to verify as text
    assert!(!dom.contains("<script>") && !dom.contains("<b>"), "{dom}");
    assert!(!dom.contains("<title>pwned"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt; Tom &amp; \"Jerry\""),
        "{dom}"
    );
    for want in [
        n.as_str(),
        "arXiv:0704.0001v",
        "First computed",
        "pith verify bundle.json --keyring keys/",
        "pith-example-2026-11",
    ] {
        assert!(dom.contains(want), "{want} in {dom}");
    }
    let shot = std::fs::read(&png).unwrap();
    assert!(
        shot.len() > 1000 && shot.starts_with(b"\x89PNG\r\n\x1a\n"),
        "a PNG was rendered"
    );
    // the site index renders too
    let site_dom = chromium(
        &format!("file://{}", site.join("index.html").display()),
        &tmp.path().join("site.png"),
    )
    .unwrap();
    assert!(site_dom.contains("Pith registry") && site_dom.contains("pith-signing-key.json"));
}

/// Chromium missing: allowed only where `.ci/run` did not promise it.
fn util_available_chromium() -> bool {
    crate::util::available(false, "headless Chromium", "PITH_REQUIRE_CHROMIUM");
    true
}
