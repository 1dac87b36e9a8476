//! The registry's event store: nothing signed is lost or doubled, bundles rebuilt from it
//! equal the file route's, export/import round-trips, publish is incremental.

use std::path::{Path, PathBuf};

use pith::format::canon::{self, Value};
use pith::registry::ledger::Ledger;

use crate::publishing::{Fixture, event, number, record_created, t};
use crate::util::pith;

const KEY: &str = "keys.example/pith-example-2026-11.key.age";
const PASS: &str = "keys.example/example.passphrase";
const BUILT: &str = "2026-12-02T12:00:00Z";

fn q(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn lines(b: &[u8]) -> Vec<Value> {
    b.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| canon::parse(l).unwrap())
        .collect()
}

fn issue(args: &[&str], db: &Path) -> assert_cmd::assert::Assert {
    pith()
        .args(["issue"])
        .args(args)
        .args([
            "--default-license",
            "http://example.org/l",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
            db.to_str().unwrap(),
        ])
        .assert()
}

fn rebuild(db: &Path, what: &[&str]) -> Vec<u8> {
    pith()
        .args(["bundle"])
        .args(what)
        .args([
            "--registry",
            db.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--built-at",
            BUILT,
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

fn from_files(events: &Path, db: &Path) -> Vec<u8> {
    pith()
        .args([
            "bundle",
            events.to_str().unwrap(),
            "--registry",
            db.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--built-at",
            BUILT,
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

#[test]
fn every_issue_route_stores_its_event_and_the_store_rebuilds_the_file_routes_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let src = "tests/data/arxiv/snapshot-head200.jsonl";
    let all = std::fs::read_to_string(src).unwrap();
    let recs: Vec<&str> = all.lines().take(4).collect();
    let one = |i: usize| {
        let p = tmp.path().join(format!("r{i}.jsonl"));
        std::fs::write(&p, format!("{}\n", recs[i])).unwrap();
        p
    };
    let db = tmp.path().join("l.sqlite");
    // --out; stdout; --json (summary on stderr, event still on stdout); stdin
    let out = tmp.path().join("e0.json");
    issue(
        &[one(0).to_str().unwrap(), "--out", out.to_str().unwrap()],
        &db,
    )
    .success();
    let e1 = issue(&[one(1).to_str().unwrap()], &db)
        .success()
        .get_output()
        .stdout
        .clone();
    let e2 = issue(&[one(2).to_str().unwrap(), "--json"], &db)
        .success()
        .get_output()
        .stdout
        .clone();
    let e3 = pith()
        .args([
            "issue",
            "-",
            "--default-license",
            "http://example.org/l",
            "--key",
            KEY,
        ])
        .args([
            "--passphrase-file",
            PASS,
            "--registry",
            db.to_str().unwrap(),
        ])
        .write_stdin(format!("{}\n", recs[3]))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut events = lines(&std::fs::read(&out).unwrap());
    for b in [&e1, &e2, &e3] {
        events.extend(lines(b));
    }
    assert_eq!(events.len(), 4);
    assert_eq!(q(&db, "SELECT COUNT(*) FROM events"), 4);
    assert_eq!(q(&db, "SELECT COUNT(*) FROM event_versions"), 4);
    // each stored event is byte for byte the one printed, and the store's bundle is the
    // file route's
    for ev in &events {
        let id = ev.get("event_id").and_then(Value::as_str).unwrap();
        let stored: String = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT event FROM event_versions WHERE event_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored.as_bytes(), canon::to_canonical(ev));
        let n = ev
            .get("subject_pith_number")
            .and_then(Value::as_str)
            .unwrap();
        let f = tmp.path().join("ev.json");
        std::fs::write(&f, canon::to_canonical(ev)).unwrap();
        let file_route = from_files(&f, &db);
        let store_route = rebuild(&db, &[n]);
        assert_eq!(store_route, file_route, "{n}");
        pith()
            .args(["verify", "-", "--keyring", "keys.example"])
            .write_stdin(store_route)
            .assert()
            .success();
    }
    // --all gives the four, --pending none (each was just rebuilt from the store)
    assert_eq!(lines(&rebuild(&db, &["--all"])).len(), 4);
    assert_eq!(lines(&rebuild(&db, &["--pending"])).len(), 0);
}

#[test]
fn years_of_events_for_one_paper_rebuild_exactly_as_from_files() {
    let f = Fixture::new();
    let k = &f.key;
    let rc = record_created(k, "2026-02-01T00:00:00Z");
    let obj = |k: &str, v: Value| canon::object([(k, v)]);
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
    let rec = crate::util::bundle()
        .get("canonical_record")
        .unwrap()
        .clone();
    let gp = pith::sign::graph::payload(&paper, &rec, None, None).unwrap();
    let ev = |kind: &str, at: &str, payload: Value, sup: &[&Value]| {
        let target = pith::format::rules::EventType::parse(kind)
            .unwrap()
            .target();
        event(k, kind, target, at, payload, None, sup)
    };
    let g1 = ev("graph_snapshot", "2026-03-01T00:00:00Z", gp.clone(), &[]);
    let g2 = ev("graph_snapshot", "2027-03-01T00:00:00Z", gp.clone(), &[]);
    let g3 = ev("graph_snapshot", "2028-03-01T00:00:00Z", gp, &[]);
    let att = ev(
        "author_attestation",
        "2026-06-01T00:00:00Z",
        obj("orcid", "0000-0002-1825-0097".into()),
        &[],
    );
    let fix = ev(
        "correction",
        "2027-06-01T00:00:00Z",
        obj("note", "the first snapshot missed an author".into()),
        &[&g1],
    );
    // a re-signature by the key the signer's is rotated to: the same event, a second
    // version, not a second event
    let k2 = pith::trust::secret::SigningKey::from_seed(
        "pith-test-2028-06",
        t("2026-01-01T00:00:00Z"),
        &[9u8; 32],
    );
    let doc2 = pith::trust::keys::KeyDocument::build(
        k2.key_id(),
        k2.public(),
        None,
        None,
        Some(&t("2026-01-01T00:00:00Z")),
    );
    std::fs::write(
        f.keys().join("pith-test-2028-06.pub.json"),
        canon::to_canonical(&doc2),
    )
    .unwrap();
    let tr = pith::trust::statements::transition(
        &f.raw,
        &k2,
        &t("2028-06-01T00:00:00Z"),
        &t("2028-05-01T00:00:00Z"),
    )
    .unwrap();
    std::fs::write(
        f.keys().join("a--b.transition.json"),
        canon::to_canonical(&tr),
    )
    .unwrap();
    let ring = f.ring();
    let k2 = ring
        .authorize(Box::new(k2), &pith::format::time::Timestamp::now())
        .unwrap();
    let again =
        pith::sign::issue::resign_event(&att, &k2, &pith::format::time::Timestamp::now()).unwrap();
    let db = f.tmp.path().join("l.sqlite");
    let mut l = Ledger::open(&db).unwrap();
    let evs = [&rc, &g1, &g2, &g3, &att, &fix, &again];
    for ev in evs {
        let v = pith::verify::verify_event((*ev).clone(), &ring).unwrap();
        l.store_event(&v).unwrap();
    }
    assert_eq!(l.store_counts().unwrap(), (6, 7, 0));
    // storing the same again writes nothing
    let v = pith::verify::verify_event(again.clone(), &ring).unwrap();
    assert_eq!(
        l.store_event(&v).unwrap(),
        pith::registry::ledger::Put::Already
    );
    assert_eq!(l.store_counts().unwrap(), (6, 7, 0));
    // the store's current events: the re-signed version of the attestation
    let current = l.events_of(&number()).unwrap();
    assert_eq!(current.len(), 6);
    assert!(current.contains(&again) && !current.contains(&att));
    // the file route over the same current events
    let built = t("2029-02-01T00:00:00Z");
    let file_route = {
        let files = [&rc, &g1, &g2, &g3, &again, &fix];
        let evs: Vec<Value> = files.iter().map(|e| (*e).clone()).collect();
        let u = pith::sign::bundle::assemble(
            &evs,
            &ring,
            "https://pith.science",
            &built,
            Some("pith-test-2028-06"),
        )
        .unwrap();
        canon::to_canonical(&pith::sign::bundle::sign(u, &k2, &built).unwrap())
    };
    let mut out = Vec::new();
    let how = pith::registry::rebuild::Rebuild {
        keyring: &ring,
        key: &k2,
        base_url: "https://pith.science",
        built_at: built,
        signed_at: built,
    };
    let sum = pith::registry::rebuild::rebuild(
        &mut l,
        &pith::registry::rebuild::Papers::Numbers(vec![number()]),
        &how,
        &mut out,
        &mut |n, why| panic!("{n}: {why}"),
    )
    .unwrap();
    assert_eq!(sum.done, 1);
    assert_eq!(out.strip_suffix(b"\n").unwrap(), &file_route[..]);
    let b = pith::verify::verify_bundle(canon::parse(&file_route).unwrap(), &ring).unwrap();
    assert_eq!(b.event_ids().len(), 6);
    assert_eq!(l.store_counts().unwrap(), (6, 7, 1));
}

struct Offline {
    tmp: tempfile::TempDir,
}

impl Offline {
    fn p(&self, n: &str) -> PathBuf {
        self.tmp.path().join(n)
    }
    fn s(&self, n: &str) -> String {
        self.p(n).to_str().unwrap().to_owned()
    }
    fn request(&self, name: &str, db: &str) {
        pith()
            .args([
                "issue",
                "tests/data/arxiv/main-job.abs",
                "--request",
                &self.s(name),
            ])
            .args([
                "--signer",
                "pith-example-2026-11",
                "--keyring",
                "keys.example",
                "--registry",
                db,
            ])
            .assert()
            .success();
    }
    fn sign(&self, req: &str, resp: &str) {
        pith()
            .args([
                "sign",
                &self.s(req),
                "--key",
                KEY,
                "--passphrase-file",
                PASS,
                "--yes",
            ])
            .args(["--out", &self.s(resp), "--log", &self.s("audit.jsonl")])
            .assert()
            .success();
    }
    fn apply(&self, req: &str, resp: &str, db: &str) -> assert_cmd::assert::Assert {
        pith()
            .args([
                "apply",
                &self.s(req),
                &self.s(resp),
                "--keyring",
                "keys.example",
            ])
            .args(["--registry", db, "--out", &self.s("signed.json")])
            .assert()
    }
}

#[test]
fn apply_twice_writes_once_and_a_stale_offline_issue_is_refused() {
    let o = Offline {
        tmp: tempfile::tempdir().unwrap(),
    };
    let db = o.s("l.sqlite");
    o.request("req.json", &db);
    o.sign("req.json", "resp.json");
    o.apply("req.json", "resp.json", &db)
        .success()
        .stderr(predicates::str::contains("issued   pith:2023:"));
    let rows = |db: &str| {
        let p = Path::new(db);
        (
            q(p, "SELECT COUNT(*) FROM receipts"),
            q(p, "SELECT COUNT(*) FROM signatures"),
            q(p, "SELECT COUNT(*) FROM event_versions"),
        )
    };
    let before = rows(&db);
    assert_eq!(before, (1, 2, 1));
    // the same response again: exit 0, already applied, no new rows
    o.apply("req.json", "resp.json", &db)
        .success()
        .stderr(predicates::str::contains("already applied"))
        .stderr(predicates::str::contains("reissued").not());
    assert_eq!(rows(&db), before);
    // online after offline: a reissue keeps the offline first_computed_at
    let first: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT first_computed_at FROM records", [], |r| r.get(0))
        .unwrap();
    issue(&["tests/data/arxiv/main-job.abs"], Path::new(&db))
        .success()
        .stderr(predicates::str::contains("reissued"));
    let after: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT first_computed_at FROM records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(after, first);
    // offline after online: a request planned against an empty ledger, applied to a
    // ledger where the number was issued online since, is stale
    let db2 = o.s("l2.sqlite");
    o.request("req2.json", &o.s("empty.sqlite"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    issue(&["tests/data/arxiv/main-job.abs"], Path::new(&db2)).success();
    o.sign("req2.json", "resp2.json");
    let n = q(Path::new(&db2), "SELECT COUNT(*) FROM receipts");
    o.apply("req2.json", "resp2.json", &db2)
        .code(1)
        .stderr(predicates::str::contains("the signing request is stale"));
    assert_eq!(q(Path::new(&db2), "SELECT COUNT(*) FROM receipts"), n);
}

use predicates::prelude::PredicateBooleanExt as _;

#[test]
fn a_ledger_of_schema_1_upgrades_in_place_and_keeps_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("old.sqlite");
    std::fs::copy("tests/data/ledger-v1.sqlite", &db).unwrap();
    assert_eq!(q(&db, "PRAGMA user_version"), 0);
    let records = q(&db, "SELECT COUNT(*) FROM records");
    let firsts: Vec<String> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare("SELECT first_computed_at FROM records ORDER BY rowid")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // read-only commands read it as it is
    pith()
        .args(["registry", "export", "--registry", db.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(q(&db, "PRAGMA user_version"), 0);
    // the first write upgrades it: the same records, the store's tables added
    issue(&["tests/data/arxiv/snapshot-head200.jsonl"], &db).success();
    assert_eq!(q(&db, "PRAGMA user_version"), 4);
    assert_eq!(
        q(
            &db,
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"
        ),
        4
    );
    let ok: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let after: Vec<String> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare("SELECT first_computed_at FROM records ORDER BY rowid LIMIT ?1")
            .unwrap();
        st.query_map([records], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        after, firsts,
        "the old records kept their first_computed_at"
    );
    assert_eq!(q(&db, "SELECT COUNT(*) FROM events"), 200);
    // the events the old ledger did not keep come in from the files they went to, once
    for (run, said) in [(0, "stored 3 artifact(s)"), (1, "stored 0 artifact(s)")] {
        let _ = run;
        pith()
            .args([
                "registry",
                "add",
                "tests/data/ledger-v1-events.jsonl",
                "--keyring",
                "keys.example",
            ])
            .args(["--registry", db.to_str().unwrap()])
            .assert()
            .success()
            .stderr(predicates::str::contains(said));
    }
    assert_eq!(q(&db, "SELECT COUNT(*) FROM events"), 203);
    pith()
        .args(["registry", "check", "--registry", db.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "203 event(s) in 203 version(s), 0 bundle(s): whole",
        ));
    // a stored event edited behind pith's back is found
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE event_versions SET event = replace(event, '\"created_at\":\"20', '\"created_at\":\"19') WHERE seq = 7",
            [],
        )
        .unwrap();
    pith()
        .args(["registry", "check", "--registry", db.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "problem: event version 7: its bytes are not event",
        ));
}

#[test]
fn export_import_export_is_byte_identical_and_import_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("a.sqlite");
    issue(
        &[
            "tests/data/arxiv/snapshot-head200.jsonl",
            "--bundle",
            "--keyring",
            "keys.example",
            "--out",
            "/dev/null",
            "--force",
        ],
        &db,
    )
    .success();
    rebuild(&db, &["--all"]);
    let x1 = tmp.path().join("x1.jsonl");
    let x2 = tmp.path().join("x2.jsonl");
    let export = |db: &Path, x: &Path| {
        pith()
            .args([
                "registry",
                "export",
                "--registry",
                db.to_str().unwrap(),
                "--out",
                x.to_str().unwrap(),
            ])
            .assert()
            .success();
    };
    export(&db, &x1);
    let mirror = tmp.path().join("b.sqlite");
    pith()
        .args([
            "registry",
            "import",
            x1.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--registry",
            mirror.to_str().unwrap(),
        ])
        .assert()
        .success();
    export(&mirror, &x2);
    assert_eq!(std::fs::read(&x1).unwrap(), std::fs::read(&x2).unwrap());
    let text = std::fs::read_to_string(&x1).unwrap();
    for kind in ["record", "receipt", "signature", "event", "bundle"] {
        assert!(text.contains(&format!("\"kind\":\"{kind}\"")), "{kind}");
    }
    // into a ledger that is not empty: refused
    pith()
        .args([
            "registry",
            "import",
            x1.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--registry",
            mirror.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not empty"));
    // a tampered event line: refused, naming the line, nothing imported
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"event\""))
        .unwrap();
    let mut bad: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
    bad[i] = bad[i].replacen("\"created_at\":\"20", "\"created_at\":\"19", 1);
    let xb = tmp.path().join("bad.jsonl");
    std::fs::write(&xb, bad.join("\n") + "\n").unwrap();
    let fresh = tmp.path().join("c.sqlite");
    pith()
        .args([
            "registry",
            "import",
            xb.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--registry",
            fresh.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(format!("bad.jsonl:{}:", i + 1)))
        .stderr(predicates::str::contains("nothing imported"));
    assert_eq!(q(&fresh, "SELECT COUNT(*) FROM records"), 0);
}

fn files(dir: &Path) -> Vec<(PathBuf, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let m = std::fs::metadata(&p).unwrap().modified().unwrap();
                out.push((p, m));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn publish_from_the_store_is_incremental() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.sqlite");
    let src = tmp.path().join("r.jsonl");
    let all = std::fs::read_to_string("tests/data/arxiv/snapshot-head200.jsonl").unwrap();
    std::fs::write(
        &src,
        all.lines().take(5).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let evs = issue(&[src.to_str().unwrap()], &db)
        .success()
        .get_output()
        .stdout
        .clone();
    rebuild(&db, &["--all"]);
    let site = tmp.path().join("site");
    let publish = || {
        pith()
            .args([
                "publish",
                "--registry",
                db.to_str().unwrap(),
                "--keyring",
                "keys.example",
                "--out",
                site.to_str().unwrap(),
            ])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let first = String::from_utf8(publish()).unwrap();
    assert!(first.contains("published 5 paper(s)"), "{first}");
    let before = files(&site);
    // a second run writes nothing
    let second = String::from_utf8(publish()).unwrap();
    assert!(
        second.contains("published 0 paper(s): 0 file(s) written"),
        "{second}"
    );
    assert_eq!(files(&site), before);
    // one new event: only that paper's files (and the manifest's time) change
    let n = lines(&evs)[2]
        .get("subject_pith_number")
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    let code = n.rsplit(':').next().unwrap().to_owned();
    let payload = tmp.path().join("p.json");
    std::fs::write(&payload, b"{\"mirror\":\"https://m.example\"}").unwrap();
    pith()
        .args([
            "event",
            "sign",
            "--type",
            "mirror_hint",
            "--subject",
            &n,
            "--payload",
            payload.to_str().unwrap(),
        ])
        .args([
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
            db.to_str().unwrap(),
            "--quiet",
        ])
        .assert()
        .success()
        .stderr("");
    assert_eq!(lines(&rebuild(&db, &["--pending"])).len(), 1);
    let third = String::from_utf8(publish()).unwrap();
    assert!(third.contains("published 1 paper(s)"), "{third}");
    let changed: Vec<String> = files(&site)
        .into_iter()
        .zip(before)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.strip_prefix(&site).unwrap().display().to_string())
        .collect();
    assert!(!changed.is_empty());
    for c in &changed {
        assert!(c.contains(&code) || c == "pith-mirrors.json", "{c} changed");
    }
}

#[test]
fn a_refused_import_leaves_an_older_ledger_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("v1.sqlite");
    std::fs::copy("tests/data/ledger-v1.sqlite", &db).unwrap();
    let before = std::fs::read(&db).unwrap();
    crate::util::pith()
        .args([
            "registry",
            "import",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "keys.example",
            "--registry",
        ])
        .arg(&db)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not empty"));
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "not upgraded, not touched"
    );
}

/// Issue `input` to signed bundles, written to `out` and recorded in `db`.
fn issue_bundles(input: &str, out: &Path, db: &Path) {
    issue(
        &[
            input,
            "--bundle",
            "--keyring",
            "keys.example",
            "--out",
            out.to_str().unwrap(),
        ],
        db,
    )
    .success();
}

/// The bundles `registry export` reads back from `db`, in store order.
fn exported_bundles(db: &Path) -> Vec<serde_json::Value> {
    let out = pith()
        .args(["registry", "export", "--registry", db.to_str().unwrap()])
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "bundle")
        .map(|v| v["bundle"].clone())
        .collect()
}

#[test]
fn bundles_are_stored_by_reference_and_read_back_as_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("a.sqlite");
    let out = tmp.path().join("bundles.jsonl");
    issue_bundles("tests/data/arxiv/snapshot-head200.jsonl", &out, &db);
    let written = std::fs::read(&out).unwrap();
    let n = written
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as i64;
    // every bundle is kept by reference, in well under half its bytes
    assert_eq!(
        q(&db, "SELECT COUNT(*) FROM bundles WHERE refs IS NOT NULL"),
        n
    );
    let stored = q(&db, "SELECT SUM(length(bundle)) FROM bundles");
    assert!(
        stored * 100 < written.len() as i64 * 45,
        "{stored} bytes stored for {} written",
        written.len()
    );
    // read back (export) they are the bundles written, and they verify, in pith and in
    // the independent peer
    let exported = exported_bundles(&db);
    let issued: Vec<serde_json::Value> = std::str::from_utf8(&written)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported, issued);
    let again = tmp.path().join("again.jsonl");
    std::fs::write(
        &again,
        exported
            .iter()
            .map(|b| serde_json::to_string(b).unwrap() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    pith()
        .args([
            "verify",
            again.to_str().unwrap(),
            "--keyring",
            "keys.example",
        ])
        .assert()
        .success();
    if let Some(pithref) = crate::util::pithref() {
        let doc: serde_json::Value = serde_json::from_slice(
            &std::fs::read("keys.example/pith-example-2026-11.pub.json").unwrap(),
        )
        .unwrap();
        let said = crate::util::pithref_ok(
            &pithref,
            &[
                "verify-bulk".as_ref(),
                again.as_os_str(),
                "--pubkey-b64".as_ref(),
                doc["public_key_b64"].as_str().unwrap().as_ref(),
            ],
        );
        assert!(said.contains(&format!("verified {n}, failed 0 ")), "{said}");
    }
    pith()
        .args(["registry", "check", "--registry", db.to_str().unwrap()])
        .assert()
        .success();
    // a reference that no longer fits is found by check and refused on reading, by name
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("UPDATE bundles SET refs = '0,1,0,99999' WHERE seq = 3; UPDATE bundles SET refs = replace(refs, ',', ',9') WHERE seq = 5;")
        .unwrap();
    pith()
        .args(["registry", "check", "--registry", db.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "bundle 3: reference 1: bytes 0+99999 are not in event version 1",
        ))
        .stderr(predicates::str::contains("bundle 5: reference 1"));
    pith()
        .args(["registry", "export", "--registry", db.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("stored bundle 3: reference 1"));
}

#[test]
fn a_schema_3_ledger_keeps_its_whole_bundles_and_stores_new_ones_by_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("a.sqlite");
    issue_bundles(
        "tests/data/arxiv/main-job.abs",
        &tmp.path().join("one.json"),
        &db,
    );
    // as schema 3 wrote it: the bundle whole, no references column
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        let whole = std::fs::read_to_string(tmp.path().join("one.json")).unwrap();
        let whole = whole.trim_end();
        c.execute_batch(&format!(
            "UPDATE bundles SET bundle = '{}'; ALTER TABLE bundles DROP COLUMN refs; UPDATE meta SET value = '3' WHERE key = 'schema_version'; PRAGMA user_version = 3;",
            whole.replace('\'', "''")
        ))
        .unwrap();
    }
    let one: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("one.json")).unwrap()).unwrap();
    assert_eq!(exported_bundles(&db), vec![one.clone()]);
    issue_bundles(
        "tests/data/arxiv/snapshot-head200.jsonl",
        &tmp.path().join("more.jsonl"),
        &db,
    );
    assert_eq!(q(&db, "PRAGMA user_version"), 4);
    assert_eq!(q(&db, "SELECT COUNT(*) FROM bundles WHERE refs IS NULL"), 1);
    assert!(q(&db, "SELECT COUNT(*) FROM bundles WHERE refs IS NOT NULL") > 100);
    assert_eq!(exported_bundles(&db)[0], one);
    pith()
        .args(["registry", "check", "--registry", db.to_str().unwrap()])
        .assert()
        .success();
}
