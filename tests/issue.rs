//! Issuing: receipts that verify, the ledger's reissue, collision, changed
//! metadata, concurrency and crash behaviour.

use std::path::{Path, PathBuf};

use pith::format::canon::{self, Value};

use crate::util::{bundle, pith};

/// A temp dir with a fresh signing key (fast scrypt) and its keyring.
pub struct Issuer {
    pub tmp: tempfile::TempDir,
}

impl Default for Issuer {
    fn default() -> Self {
        Self::new()
    }
}

impl Issuer {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("pass"), "issuer test passphrase\n").unwrap();
        pith()
            .args([
                "key",
                "generate",
                "--key-id",
                "pith-test-1",
                "--out-dir",
                tmp.path().join("keys").to_str().unwrap(),
                "--passphrase-file",
                tmp.path().join("pass").to_str().unwrap(),
                "--scrypt-log-n",
                "10",
            ])
            .assert()
            .success();
        Issuer { tmp }
    }
    pub fn keys(&self) -> PathBuf {
        self.tmp.path().join("keys")
    }
    pub fn db(&self) -> PathBuf {
        self.tmp.path().join("ledger.sqlite")
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    /// `pith issue` with this issuer's key and ledger.
    pub fn issue(&self, inputs: &[&Path]) -> assert_cmd::Command {
        self.issue_db(inputs, &self.db())
    }
    /// `pith issue` with this issuer's key and the ledger `db`.
    pub fn issue_db(&self, inputs: &[&Path], db: &Path) -> assert_cmd::Command {
        let mut c = pith();
        c.arg("issue");
        for i in inputs {
            c.arg(i);
        }
        c.args([
            "--key",
            self.keys().join("pith-test-1.key.age").to_str().unwrap(),
            "--passphrase-file",
            self.tmp.path().join("pass").to_str().unwrap(),
            "--registry",
            db.to_str().unwrap(),
        ]);
        c
    }
}

/// The real canonical record with another arXiv id: a well-formed, different record.
pub fn record_with_id(n: u32) -> Value {
    let mut r = bundle().get("canonical_record").unwrap().clone();
    let src = r
        .as_object_mut()
        .unwrap()
        .get_mut("source")
        .unwrap()
        .as_object_mut()
        .unwrap();
    src.insert("id".into(), format!("2605.{:05}", 10000 + n).into());
    r
}

fn write_records(path: &Path, recs: &[Value]) {
    let mut s = Vec::new();
    for r in recs {
        s.extend_from_slice(&canon::to_canonical(r));
        s.push(b'\n');
    }
    std::fs::write(path, s).unwrap();
}

fn parse_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| canon::parse(l.as_bytes()).unwrap())
        .collect()
}

fn rows(db: &Path, q: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(q, [], |r| r.get(0)).unwrap()
}

#[test]
fn issued_receipt_and_event_verify_and_reissue_keeps_first_computed_at() {
    let is = Issuer::new();
    let rec = bundle().get("canonical_record").unwrap().clone();
    let input = is.file("rec.json");
    std::fs::write(&input, canon::to_canonical(&rec)).unwrap();
    let out = is
        .issue(&[&input])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ev = parse_lines(&out).remove(0);
    // the number is the real bundle's number: same record, same number
    assert_eq!(
        ev.get("subject_pith_number").and_then(Value::as_str),
        Some("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX")
    );
    let evf = is.file("event.json");
    std::fs::write(&evf, canon::to_canonical(&ev)).unwrap();
    let receipt = ev.get("payload").unwrap().get("receipt").unwrap().clone();
    let rf = is.file("receipt.json");
    std::fs::write(&rf, canon::to_canonical(&receipt)).unwrap();
    let k = is.keys();
    pith()
        .args([
            "verify",
            evf.to_str().unwrap(),
            "--keyring",
            k.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("verified event"));
    pith()
        .args([
            "verify",
            rf.to_str().unwrap(),
            "--record",
            input.to_str().unwrap(),
            "--keyring",
            k.to_str().unwrap(),
        ])
        .assert()
        .success();
    // the registry's real key did not sign it
    pith()
        .args(["verify", evf.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "which is not in the keyring keys.example",
        ));
    // reissue: same number, first_computed_at kept, last_reissued_at moves, one ledger row
    std::thread::sleep(std::time::Duration::from_millis(5));
    let out2 = is
        .issue(&[&input])
        .assert()
        .success()
        .stderr(predicates::str::contains("reissued"))
        .get_output()
        .stdout
        .clone();
    let r2 = parse_lines(&out2)
        .remove(0)
        .get("payload")
        .unwrap()
        .get("receipt")
        .unwrap()
        .clone();
    assert_eq!(
        r2.get("first_computed_at"),
        receipt.get("first_computed_at")
    );
    assert_ne!(r2.get("last_reissued_at"), receipt.get("last_reissued_at"));
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM records"), 1);
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM receipts"), 2);
    // every signature is in the audit table: receipt + event, twice
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM signatures"), 4);
    // the ledger shows it by number and by arXiv id
    pith()
        .args([
            "registry",
            "show",
            "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
            "--registry",
            is.db().to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("receipts           2"));
    pith()
        .args([
            "registry",
            "show",
            "2605.18404v1",
            "--registry",
            is.db().to_str().unwrap(),
            "--json",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("\"first_computed_at\""));
    let exp = pith()
        .args([
            "registry",
            "export",
            "--registry",
            is.db().to_str().unwrap(),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let records: Vec<_> = parse_lines(&exp)
        .into_iter()
        .filter(|l| l.get("kind").and_then(canon::Value::as_str) == Some("record"))
        .collect();
    assert_eq!(records.len(), 1);
}

#[test]
fn changed_metadata_gets_a_new_number_linked_to_the_old() {
    let is = Issuer::new();
    let a = record_with_id(1);
    let mut b = a.clone();
    b.as_object_mut()
        .unwrap()
        .get_mut("metadata")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert("primary_cat".into(), "cs.CR".into());
    let (fa, fb) = (is.file("a.json"), is.file("b.json"));
    std::fs::write(&fa, canon::to_canonical(&a)).unwrap();
    std::fs::write(&fb, canon::to_canonical(&b)).unwrap();
    let na = parse_lines(&is.issue(&[&fa]).assert().success().get_output().stdout)[0]
        .get("subject_pith_number")
        .unwrap()
        .clone();
    // --json: the summary on stderr, the signed event still on stdout (never replaced)
    let out = is.issue(&[&fb]).arg("--json").assert().success();
    let o = out.get_output();
    let summary = String::from_utf8_lossy(&o.stderr)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let s: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(s["replaces"].as_str(), na.as_str());
    let ev = parse_lines(&o.stdout);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].get("subject_pith_number").unwrap().as_str(),
        s["pith_number"].as_str()
    );
    assert_ne!(s["pith_number"].as_str(), na.as_str());
}

#[test]
fn a_different_record_under_an_issued_code_is_refused_loudly() {
    let is = Issuer::new();
    let a = record_with_id(2);
    let fa = is.file("a.json");
    std::fs::write(&fa, canon::to_canonical(&a)).unwrap();
    is.issue(&[&fa]).assert().success();
    // forge the collision: the ledger claims another hash for this code
    let c = rusqlite::Connection::open(is.db()).unwrap();
    c.execute(
        "UPDATE records SET canonical_sha256 = '00' || substr(canonical_sha256, 3)",
        [],
    )
    .unwrap();
    drop(c);
    is.issue(&[&fa])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("code collision"));
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM receipts"), 1);
}

#[test]
fn two_processes_issuing_the_same_500_records_leave_500_rows() {
    let is = Issuer::new();
    let recs: Vec<Value> = (0..500).map(record_with_id).collect();
    let f = is.file("batch.jsonl");
    write_records(&f, &recs);
    // create the ledger first so both processes open an existing WAL database
    let one = is.file("one.json");
    std::fs::write(&one, canon::to_canonical(&recs[0])).unwrap();
    is.issue(&[&one]).assert().success();
    let spawn = || {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pith"));
        c.arg("issue").arg(&f).args([
            "--key",
            is.keys().join("pith-test-1.key.age").to_str().unwrap(),
            "--passphrase-file",
            is.file("pass").to_str().unwrap(),
            "--registry",
            is.db().to_str().unwrap(),
            "--out",
            "/dev/null",
            "--force",
        ]);
        c.stderr(std::process::Stdio::null()).spawn().unwrap()
    };
    let (mut p1, mut p2) = (spawn(), spawn());
    assert!(p1.wait().unwrap().success());
    assert!(p2.wait().unwrap().success());
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM records"), 500);
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM receipts"), 1001);
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM signatures"), 2002);
    // every receipt either process signed is possible: reissued at or after first computed
    let c = rusqlite::Connection::open(is.db()).unwrap();
    let mut st = c.prepare("SELECT receipt FROM receipts").unwrap();
    let receipts: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for r in receipts {
        let v = canon::parse(r.as_bytes()).unwrap();
        let g = |k: &str| {
            pith::format::time::Timestamp::parse(v.get(k).and_then(Value::as_str).unwrap())
                .unwrap()
                .micros()
        };
        assert!(g("last_reissued_at") >= g("first_computed_at"), "{r}");
    }
    assert_eq!(
        rows(
            &is.db(),
            "SELECT COUNT(*) FROM records WHERE first_computed_at > last_reissued_at"
        ),
        0
    );
}

#[test]
fn a_process_killed_mid_batch_leaves_a_consistent_ledger() {
    let is = Issuer::new();
    let recs: Vec<Value> = (0..3000).map(record_with_id).collect();
    let f = is.file("batch.jsonl");
    write_records(&f, &recs);
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("pith"));
    c.arg("issue").arg(&f).args([
        "--key",
        is.keys().join("pith-test-1.key.age").to_str().unwrap(),
        "--passphrase-file",
        is.file("pass").to_str().unwrap(),
        "--registry",
        is.db().to_str().unwrap(),
        "--out",
        "/dev/null",
        "--force",
        // a transaction per chunk of 256 lines, so that several commit before the kill
        "--transaction-records",
        "256",
    ]);
    let mut child = c.stderr(std::process::Stdio::null()).spawn().unwrap();
    // wait until it has committed something, then kill it hard
    let start = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if is.db().exists()
            && std::panic::catch_unwind(|| rows(&is.db(), "SELECT COUNT(*) FROM records"))
                .unwrap_or(0)
                > 50
        {
            break;
        }
        assert!(start.elapsed().as_secs() < 60, "issuer made no progress");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let db = rusqlite::Connection::open(is.db()).unwrap();
    let ok: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let n = rows(&is.db(), "SELECT COUNT(*) FROM records");
    assert!(n > 50, "{n}");
    eprintln!("killed after {n} committed records");
    // committed transactions are whole: whole chunks, or the whole run
    assert!(
        n % 256 == 0 || n == 3000,
        "{n} records: a transaction committed in part"
    );
    // no half entries: every record has its receipt, every receipt its two audit rows
    assert_eq!(
        rows(
            &is.db(),
            "SELECT COUNT(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM receipts x WHERE x.pith_number = r.pith_number)"
        ),
        0
    );
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM receipts"), n);
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM signatures"), 2 * n);
    // and issuing the whole batch again completes it
    is.issue(&[&f])
        .arg("--out")
        .arg("/dev/null")
        .arg("--force")
        .assert()
        .success();
    assert_eq!(rows(&is.db(), "SELECT COUNT(*) FROM records"), 3000);
}

/// Bulk issue holds one ledger transaction over several batches: nothing is visible to
/// other readers until it commits, every record then is, and a transaction never committed
/// (the issuer dropped, as in a crash) leaves no trace. All records of one transaction
/// carry the time it took the write lock.
#[test]
fn held_bulk_transaction_commits_whole_or_not_at_all() {
    use pith::registry::ledger::{Ledger, Prepared, SignedRows};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let count = || -> i64 {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.query_row("SELECT count(*) FROM receipts", [], |r| r.get(0))
            .unwrap()
    };
    let recs: Vec<Prepared> = (0..9)
        .map(|n| Prepared::new(&record_with_id(500 + n)).unwrap())
        .collect();
    let batch = |l: &mut Ledger, rs: &[Prepared]| -> Vec<String> {
        let refs: Vec<&Prepared> = rs.iter().collect();
        l.issue_batch(&refs, None, |plans| {
            plans
                .iter()
                .map(|p| {
                    p.as_ref().map(|p| SignedRows {
                        receipt: "{}".into(),
                        event_id: format!("sha256:{}", p.sha.hex()),
                        ..SignedRows::default()
                    })
                })
                .collect()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().last_reissued_at)
        .collect()
    };
    let mut l = Ledger::open(&path).unwrap();
    l.hold_transactions(100);
    let mut times = batch(&mut l, &recs[0..3]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    times.extend(batch(&mut l, &recs[3..6]));
    assert_eq!(
        count(),
        0,
        "a held transaction is not visible before it commits"
    );
    assert!(
        times.iter().all(|t| *t == times[0]),
        "one time per transaction: {times:?}"
    );
    l.commit().unwrap();
    assert_eq!(count(), 6);
    l.commit().unwrap(); // nothing held: nothing to do

    batch(&mut l, &recs[6..9]);
    drop(l);
    assert_eq!(count(), 6, "an uncommitted transaction is rolled back");

    // without holding, each batch commits at once
    let mut l = Ledger::open(&path).unwrap();
    batch(&mut l, &recs[6..9]);
    assert_eq!(count(), 9);
}

/// A record refused at signing is not in the ledger, and the same record signed later in
/// the same transaction (same batch or a later one) is then its first issue.
#[test]
fn a_record_refused_then_signed_in_one_transaction_is_issued_once() {
    use pith::registry::ledger::{Ledger, Prepared, SignedRows};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let rec = Prepared::new(&record_with_id(900)).unwrap();
    let other = Prepared::new(&record_with_id(901)).unwrap();
    let rows = |p: &pith::registry::ledger::Plan| SignedRows {
        receipt: "{}".into(),
        event_id: format!("sha256:{}", p.sha.hex()),
        ..SignedRows::default()
    };
    let mut l = Ledger::open(&path).unwrap();
    l.hold_transactions(100);
    // same batch: refused, then signed
    let out = l
        .issue_batch(&[&rec, &rec], None, |plans| {
            vec![None, plans[1].as_ref().map(rows)]
        })
        .unwrap();
    assert!(out[0].is_err(), "the refused one is an error");
    let second = out[1].as_ref().unwrap();
    assert!(second.new, "the signed one is the first issue");
    // a later batch of the same transaction: refused, then signed
    let out = l.issue_batch(&[&other], None, |_| vec![None]).unwrap();
    assert!(out[0].is_err());
    let out = l
        .issue_batch(&[&other], None, |plans| vec![plans[0].as_ref().map(rows)])
        .unwrap();
    assert!(out[0].as_ref().unwrap().new);
    l.commit().unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let count = |t: &str| -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count("records"), 2);
    assert_eq!(count("receipts"), 2);
}

#[test]
fn a_read_only_ledger_opens_for_show_and_export() {
    use std::os::unix::fs::PermissionsExt as _;
    let is = Issuer::new();
    let f = is.file("rec.json");
    write_records(&f, &[bundle().get("canonical_record").unwrap().clone()]);
    let ro = is.file("ro");
    std::fs::create_dir(&ro).unwrap();
    let db = ro.join("l.sqlite");
    is.issue_db(&[&f], &db).assert().success();
    // the directory and every file of the ledger (database, WAL, shared memory) read-only
    for e in std::fs::read_dir(&ro).unwrap() {
        let p = e.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(is.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&ro)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    // root ignores permission bits: run as an unprivileged user then
    let run = |args: &[&str]| {
        let bin = assert_cmd::cargo::cargo_bin("pith");
        let mut c = if rustix::process::geteuid().is_root() {
            let mut c = assert_cmd::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(bin);
            c
        } else {
            assert_cmd::Command::new(bin)
        };
        c.args(args).arg("--registry").arg(&db);
        c.assert()
    };
    run(&["registry", "show", "2605.18404"])
        .success()
        .stdout(predicates::str::contains(
            "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
        ));
    run(&["registry", "export"]).success();
    for (p, b) in before {
        assert_eq!(std::fs::read(&p).unwrap(), b, "{} changed", p.display());
    }
}
