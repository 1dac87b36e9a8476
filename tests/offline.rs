//! Offline signing: request → sign → apply → verify, and every refusal.

use std::path::{Path, PathBuf};

use pith::format::canon::{self, Value};

use crate::util::{bundle, pith, sha256_hex};

const KEY: &str = "keys.example/pith-example-2026-11.key.age";
const PASS: &str = "keys.example/example.passphrase";

struct T {
    tmp: tempfile::TempDir,
}

impl T {
    fn new() -> Self {
        T {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn p(&self, n: &str) -> PathBuf {
        self.tmp.path().join(n)
    }
    fn s(&self, n: &str) -> String {
        self.p(n).to_str().unwrap().to_owned()
    }
    fn write(&self, n: &str, v: &Value) -> String {
        std::fs::write(self.p(n), canon::to_canonical(v)).unwrap();
        self.s(n)
    }
    fn read(&self, n: &str) -> Value {
        canon::parse(&std::fs::read(self.p(n)).unwrap()).unwrap()
    }
    fn sign(&self, req: &str, out: &str) -> assert_cmd::assert::Assert {
        pith()
            .args([
                "sign",
                req,
                "--key",
                KEY,
                "--passphrase-file",
                PASS,
                "--yes",
                "--out",
                &self.s(out),
                "--log",
                &self.s("audit.jsonl"),
            ])
            .assert()
    }
}

fn strip(v: &Value, keys: &[&str]) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

#[test]
fn event_round_trip_equals_online_signing() {
    let t = T::new();
    let payload = t.write("p.json", &canon::object([("proof", "ots:abc".into())]));
    let base = [
        "event",
        "sign",
        "--type",
        "timestamp_anchor",
        "--subject",
        "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
        "--payload",
        &payload,
    ];
    pith()
        .args(base)
        .args([
            "--request",
            &t.s("req.json"),
            "--signer",
            "pith-example-2026-11",
            "--keyring",
            "keys.example",
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains("read-out: "));
    t.sign(&t.s("req.json"), "resp.json")
        .success()
        .stderr(predicates::str::contains("read-out (compare by voice)"));
    pith()
        .args([
            "apply",
            &t.s("req.json"),
            &t.s("resp.json"),
            "--keyring",
            "keys.example",
            "--out",
            &t.s("signed.json"),
        ])
        .assert()
        .success();
    pith()
        .args([
            "verify",
            &t.s("signed.json"),
            &t.s("audit.jsonl"),
            "--keyring",
            "keys.example",
        ])
        .assert()
        .success();
    let online = pith()
        .args(base)
        .args(["--key", KEY, "--passphrase-file", PASS])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let online = canon::parse(&online).unwrap();
    let offline = t.read("signed.json");
    let unsigned = ["signature", "content_sha256", "event_id", "created_at"];
    assert_eq!(
        canon::to_canonical(&strip(&offline, &unsigned)),
        canon::to_canonical(&strip(&online, &unsigned))
    );
    // the audit log exports and names the request
    let req_id = t
        .read("req.json")
        .get("request_id")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    pith()
        .args(["audit", "export", "--log", &t.s("audit.jsonl")])
        .assert()
        .success()
        .stdout(predicates::str::contains(req_id));
}

#[test]
fn bundle_round_trip_is_byte_identical_to_online_but_the_signature() {
    let t = T::new();
    // events signed by the example key, bundled at a fixed built_at
    let b = bundle();
    let rec = t.write("rec.json", b.get("canonical_record").unwrap());
    let _ = rec;
    let payload = t.write("p.json", &canon::object([("x", 1i64.into())]));
    let ev = pith()
        .args([
            "event",
            "sign",
            "--type",
            "storage_attestation",
            "--subject",
            "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
            "--payload",
            &payload,
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let evs = t.p("evs.jsonl");
    // the real record_created event plus ours
    let mut lines = canon::to_canonical(&b.get("events").and_then(Value::as_array).unwrap()[0]);
    lines.push(b'\n');
    lines.extend_from_slice(&ev);
    std::fs::write(&evs, lines).unwrap();
    let built = pith::format::time::Timestamp::now().fmt_seconds();
    let args = [
        "bundle",
        evs.to_str().unwrap(),
        "--keyring",
        "keys.example",
        "--built-at",
        built.as_str(),
    ];
    pith()
        .args(args)
        .args([
            "--request",
            &t.s("req.json"),
            "--signer-key-id",
            "pith-example-2026-11",
        ])
        .assert()
        .success();
    t.sign(&t.s("req.json"), "resp.json").success();
    pith()
        .args([
            "apply",
            &t.s("req.json"),
            &t.s("resp.json"),
            "--keyring",
            "keys.example",
            "--out",
            &t.s("signed.json"),
        ])
        .assert()
        .success();
    let online = canon::parse(
        &pith()
            .args(args)
            .args(["--key", KEY, "--passphrase-file", PASS])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    let offline = t.read("signed.json");
    assert_eq!(
        canon::to_canonical(&strip(&offline, &["bundle_signature"])),
        canon::to_canonical(&strip(&online, &["bundle_signature"]))
    );
    pith()
        .args(["verify", &t.s("signed.json"), "--keyring", "keys.example"])
        .assert()
        .success();
}

#[test]
fn record_created_round_trip_records_the_ledger() {
    let t = T::new();
    let db = t.s("ledger.sqlite");
    // a bare canonical record carries no title to show the signer: refused at once
    let bare = t.write("bare.json", bundle().get("canonical_record").unwrap());
    pith()
        .args([
            "issue",
            &bare,
            "--request",
            &t.s("bare-req.json"),
            "--signer",
            "pith-example-2026-11",
            "--keyring",
            "keys.example",
            "--registry",
            &db,
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "no title to show the offline signer",
        ));
    assert!(!t.p("bare-req.json").exists());
    let rec = "tests/data/arxiv/main-job.abs".to_owned();
    pith()
        .args([
            "issue",
            &rec,
            "--request",
            &t.s("req.json"),
            "--signer",
            "pith-example-2026-11",
            "--keyring",
            "keys.example",
            "--registry",
            &db,
        ])
        .assert()
        .success();
    assert!(
        !Path::new(&db).exists()
            || rusqlite::Connection::open(&db)
                .unwrap()
                .query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))
                .unwrap()
                == 0
    );
    t.sign(&t.s("req.json"), "resp.json").success();
    pith()
        .args([
            "apply",
            &t.s("req.json"),
            &t.s("resp.json"),
            "--keyring",
            "keys.example",
            "--registry",
            &db,
            "--out",
            &t.s("signed.json"),
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains("issued   pith:2023:"));
    pith()
        .args(["verify", &t.s("signed.json"), "--keyring", "keys.example"])
        .assert()
        .success();
    pith()
        .args(["registry", "show", "2304.09157", "--registry", &db])
        .assert()
        .success()
        .stdout(predicates::str::contains("receipts           1"));
}

/// A request edited and re-sealed (request_id recomputed), so only the inner check can catch it.
fn reseal(mut req: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut req);
    let m = req.as_object_mut().unwrap();
    m.remove("request_id");
    let id = format!(
        "sha256:{}",
        sha256_hex(&canon::to_canonical(&Value::Object(m.clone())))
    );
    m.insert("request_id".into(), id.into());
    req
}

#[test]
fn every_refusal_names_its_reason_and_signs_nothing() {
    let t = T::new();
    let payload = t.write("p.json", &canon::object([("n", 1i64.into())]));
    pith()
        .args([
            "event",
            "sign",
            "--type",
            "replication_record",
            "--subject",
            "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
            "--payload",
            &payload,
            "--request",
            &t.s("req.json"),
            "--signer",
            "pith-example-2026-11",
            "--keyring",
            "keys.example",
        ])
        .assert()
        .success();
    let req = t.read("req.json");
    // a stated request id that does not match
    let mut r = req.clone();
    r.as_object_mut()
        .unwrap()
        .insert("created_at".into(), "2030-01-01T00:00:00Z".into());
    t.write("bad-id.json", &r);
    t.sign(&t.s("bad-id.json"), "x1.json")
        .code(1)
        .stderr(predicates::str::contains(
            "$.request_id: the request states",
        ));
    // a stated digest that does not match the artifact
    let r = reseal(req.clone(), |r| {
        r.get_mut("items").unwrap().as_array_mut().unwrap()[0]
            .as_object_mut()
            .unwrap()
            .insert("digest".into(), "00".repeat(32).into());
    });
    t.write("bad-digest.json", &r);
    t.sign(&t.s("bad-digest.json"), "x2.json")
        .code(1)
        .stderr(predicates::str::contains(
            "$.items[0].digest: the request states 0000",
        ));
    // an artifact edited after its digest was stated
    let r = reseal(req.clone(), |r| {
        let art = r.get_mut("items").unwrap().as_array_mut().unwrap()[0]
            .get_mut("artifact")
            .unwrap();
        art.as_object_mut()
            .unwrap()
            .insert("payload".into(), canon::object([("n", 2i64.into())]));
    });
    t.write("bad-art.json", &r);
    t.sign(&t.s("bad-art.json"), "x3.json")
        .code(1)
        .stderr(predicates::str::contains(
            "digests do not match its contents",
        ));
    // an unknown kind
    let r = reseal(req.clone(), |r| {
        r.get_mut("items").unwrap().as_array_mut().unwrap()[0]
            .as_object_mut()
            .unwrap()
            .insert("kind".into(), "certificate".into());
    });
    t.write("bad-kind.json", &r);
    t.sign(&t.s("bad-kind.json"), "x4.json")
        .code(1)
        .stderr(predicates::str::contains("unknown kind \"certificate\""));
    // a key the request does not name
    let r = reseal(req.clone(), |r| {
        r.as_object_mut().unwrap().insert(
            "key".into(),
            canon::object([
                ("key_id", "pith-v1-2026-05".into()),
                (
                    "public_key_fingerprint",
                    "8d4b5ee74e4693bcd1df2446408b0d54".into(),
                ),
            ]),
        );
    });
    t.write("bad-key.json", &r);
    t.sign(&t.s("bad-key.json"), "x5.json")
        .code(1)
        .stderr(predicates::str::contains(
            "the request is for key pith-v1-2026-05",
        ));
    // nothing was signed so far
    assert!(!t.p("audit.jsonl").exists());
    for n in ["x1.json", "x2.json", "x3.json", "x4.json", "x5.json"] {
        assert!(!t.p(n).exists(), "{n} written");
    }
    // sign once; a replay is refused
    t.sign(&t.s("req.json"), "resp.json").success();
    t.sign(&t.s("req.json"), "again.json")
        .code(1)
        .stderr(predicates::str::contains("was already signed at"));
    assert!(!t.p("again.json").exists());
    // apply: a response for another request, a truncated one, an edited one
    let other = reseal(req.clone(), |r| {
        r.as_object_mut()
            .unwrap()
            .insert("created_at".into(), "2030-01-01T00:00:00Z".into());
    });
    t.write("other-req.json", &other);
    let apply = |req: &str, resp: &str| {
        pith()
            .args([
                "apply",
                req,
                resp,
                "--keyring",
                "keys.example",
                "--out",
                &t.s("applied.json"),
            ])
            .assert()
    };
    apply(&t.s("other-req.json"), &t.s("resp.json"))
        .code(1)
        .stderr(predicates::str::contains("the response is for request"));
    let full = std::fs::read(t.p("resp.json")).unwrap();
    std::fs::write(t.p("cut.json"), &full[..full.len() / 2]).unwrap();
    apply(&t.s("req.json"), &t.s("cut.json"))
        .code(1)
        .stderr(predicates::str::contains(
            "refusing a truncated or damaged response",
        ));
    let mut edited = t.read("resp.json");
    let sig = edited
        .get_mut("signatures")
        .unwrap()
        .as_array_mut()
        .unwrap()[0]
        .get_mut("signature")
        .unwrap()
        .as_object_mut()
        .unwrap();
    let b64 = sig
        .get("signature_b64")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let first = if b64.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &b64[1..]);
    sig.insert("signature_b64".into(), flipped.into());
    t.write("edited.json", &edited);
    apply(&t.s("req.json"), &t.s("edited.json")).code(1).stderr(
        predicates::str::contains("does not verify")
            .and(predicates::str::contains("nothing written")),
    );
    assert!(!t.p("applied.json").exists());
    // a response whose key field was changed
    let mut rekeyed = t.read("resp.json");
    rekeyed
        .get_mut("key")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert("key_id".into(), "pith-v1-2026-05".into());
    t.write("rekeyed.json", &rekeyed);
    apply(&t.s("req.json"), &t.s("rekeyed.json"))
        .code(1)
        .stderr(predicates::str::contains(
            "the request is for key pith-example-2026-11",
        ));
    assert!(!t.p("applied.json").exists());
    apply(&t.s("req.json"), &t.s("resp.json")).success();
    use predicates::prelude::PredicateBooleanExt as _;
}

#[test]
fn sign_runs_without_a_network() {
    let t = T::new();
    let payload = t.write("p.json", &canon::object([("n", 1i64.into())]));
    pith()
        .args([
            "event",
            "sign",
            "--type",
            "correction",
            "--subject",
            "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
            "--payload",
            &payload,
            "--request",
            &t.s("req.json"),
            "--signer",
            "pith-example-2026-11",
            "--keyring",
            "keys.example",
        ])
        .assert()
        .success();
    let probe = std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status();
    if !crate::util::available(
        probe.is_ok_and(|s| s.success()),
        "unshare -n (an empty network namespace for pith sign)",
        "PITH_REQUIRE_NETNS",
    ) {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("pith");
    let st = std::process::Command::new("unshare")
        .arg("-n")
        .arg(bin)
        .args([
            "sign",
            &t.s("req.json"),
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--yes",
            "--out",
            &t.s("resp.json"),
            "--log",
            &t.s("audit.jsonl"),
        ])
        .current_dir(crate::util::root())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(t.p("resp.json").exists());
}

/// A signing request for one record_created item whose record's title is `title` (None:
/// the item shows no title).
fn title_request(t: &T, title: Option<&str>) -> String {
    let key = crate::util::keyring();
    let _ = key;
    let mut rec = bundle().get("canonical_record").unwrap().clone();
    let shown = title.unwrap_or("Some title");
    rec.as_object_mut()
        .unwrap()
        .get_mut("metadata")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(
            "title_canon_sha256".into(),
            pith::format::digest::text_canon_sha256(shown).into(),
        );
    let (sha, number) = pith::sign::issue::number_of(&rec).unwrap();
    let kr = pith::sign::issue::KeyRef {
        key_id: "pith-example-2026-11".into(),
        fingerprint: canon::parse(
            &std::fs::read("keys.example/pith-example-2026-11.pub.json").unwrap(),
        )
        .unwrap()
        .get("fingerprint_sha256_hex")
        .and_then(Value::as_str)
        .unwrap()
        .into(),
    };
    let now = pith::format::time::Timestamp::now();
    let receipt = pith::sign::issue::unsigned_receipt(&kr, &sha, &now, &now);
    let draft =
        pith::sign::issue::record_created_draft(&number, &rec, &sha, receipt, &now, "pith.science");
    let item = pith::sign::offline::Item {
        kind: pith::sign::offline::ItemKind::RecordCreated,
        subject: number.to_string(),
        title: title.map(str::to_owned),
        digest: sha,
        artifact: pith::sign::issue::unsigned_event(&draft, &kr),
    };
    let req = pith::sign::offline::request(&kr, &[item], &now);
    t.write("req.json", &req)
}

#[test]
fn the_review_shows_hostile_titles_escaped_and_counts_every_signature() {
    let t = T::new();
    let hostile = std::fs::read_to_string(crate::util::data("hostile/title-escape-codes.txt"))
        .unwrap()
        .trim_end_matches('\n')
        .to_owned();
    let req = title_request(&t, Some(&hostile));
    let out = t.sign(&req, "resp.json").success().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains('\u{1b}'),
        "a raw escape reached the terminal: {err:?}"
    );
    assert!(err.contains("Benign title\\u{1b}[1A\\u{1b}[2K"), "{err}");
    assert!(err.contains("2 signature(s) in 1 item(s)"), "{err}");
    assert!(
        err.contains("1 x canonical_sha256_bytes")
            && err.contains("1 x open_graph_event_sha256_bytes"),
        "{err}"
    );
    // and the response holds exactly those two signatures
    let resp = t.read("resp.json");
    let sig = &resp.get("signatures").unwrap().as_array().unwrap()[0];
    assert!(sig.get("receipt_signature_b64").is_some() && sig.get("signature").is_some());
    // a bidi override is shown, not obeyed
    let t2 = T::new();
    let bidi = std::fs::read_to_string(crate::util::data("hostile/title-bidi-override.txt"))
        .unwrap()
        .trim_end_matches('\n')
        .to_owned();
    let req = title_request(&t2, Some(&bidi));
    let out = t2.sign(&req, "resp.json").success().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("A title \\u{202e}elbisivni") && !err.contains('\u{202e}'),
        "{err}"
    );
}

#[test]
fn a_record_created_item_without_a_title_is_refused() {
    let t = T::new();
    let req = title_request(&t, None);
    t.sign(&req, "resp.json")
        .code(1)
        .stderr(predicates::str::contains("$.items[0].title"))
        .stderr(predicates::str::contains(
            "signed only with its title shown",
        ));
    assert!(!t.p("resp.json").exists());
}

/// `audit export` shows only an intact signer audit log: a missing file is a usage error,
/// a ceremony transcript is not an audit log, a broken chain is refused by line; with
/// `--keyring` the signatures are verified too, without it the summary says they are not.
#[test]
fn audit_export_shows_only_an_intact_audit_log() {
    let t = T::new();
    for n in ["1", "2"] {
        let payload = t.write(
            &format!("p{n}.json"),
            &canon::object([("proof", format!("ots:{n}").as_str().into())]),
        );
        pith()
            .args(["event", "sign", "--type", "timestamp_anchor"])
            .args(["--subject", "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX"])
            .args(["--payload", &payload])
            .args(["--request", &t.s(&format!("req{n}.json"))])
            .args([
                "--signer",
                "pith-example-2026-11",
                "--keyring",
                "keys.example",
            ])
            .assert()
            .success();
        t.sign(&t.s(&format!("req{n}.json")), &format!("resp{n}.json"))
            .success();
    }
    let export = |log: &str, ring: bool| {
        let mut c = pith();
        c.args(["audit", "export", "--log", log]);
        if ring {
            c.args(["--keyring", "keys.example"]);
        }
        c.assert()
    };
    let log = t.s("audit.jsonl");
    let out = export(&log, false)
        .success()
        .stderr(predicates::str::contains("2 entries, head sha256:"))
        .stderr(predicates::str::contains(
            "chain checked, signatures not (pass --keyring DIR)",
        ));
    assert_eq!(
        out.get_output()
            .stdout
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
        2
    );
    export(&log, true)
        .success()
        .stderr(predicates::str::contains(
            "chain and signatures verified against keys.example",
        ));
    // a keyring without the signer's key: refused, naming the key
    let empty = t.p("empty-ring");
    std::fs::create_dir(&empty).unwrap();
    std::fs::copy(
        "keys.example/pith-v1-2026-05.pub.json",
        empty.join("pith-v1-2026-05.pub.json"),
    )
    .unwrap();
    pith()
        .args(["audit", "export", "--log", &log, "--keyring"])
        .arg(&empty)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains("a key in the keyring"));
    // missing
    export(&t.s("nope.jsonl"), false)
        .code(2)
        .stderr(predicates::str::contains("no audit log at "));
    // a ceremony transcript is not an audit log
    export("keys.example/ceremony.jsonl", false)
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains("a ceremony transcript"));
    // an entry dropped from the middle breaks the chain at the line after it
    let text = std::fs::read_to_string(t.p("audit.jsonl")).unwrap();
    let first = text.lines().next().unwrap();
    let cut = t.p("cut.jsonl");
    std::fs::write(&cut, format!("{}\n", text.lines().nth(1).unwrap())).unwrap();
    export(cut.to_str().unwrap(), false)
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains("line 1.seq"));
    // an entry edited after signing: its hash no longer matches
    let edited = t.p("edited.jsonl");
    std::fs::write(
        &edited,
        text.replacen(first, &first.replace("2026-", "2025-"), 1),
    )
    .unwrap();
    export(edited.to_str().unwrap(), false)
        .code(1)
        .stderr(predicates::str::contains("entry_sha256"));
}
