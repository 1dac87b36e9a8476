//! Bulk paths: order and bytes independent of threads, bad lines reported by
//! line number, streaming verify.

use pith::format::canon::{self, Value};

use crate::issue::{Issuer, record_with_id};
use crate::util::pith;

const AT: &str = "2030-01-01T10:00:00.123456Z";

fn lines(out: &[u8]) -> Vec<&[u8]> {
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn bulk_output_is_identical_for_1_and_n_threads_and_one_at_a_time() {
    let is = Issuer::new();
    let recs: Vec<Value> = (0..40).map(|i| record_with_id(1000 + i)).collect();
    let f = is.file("batch.jsonl");
    let mut body = Vec::new();
    for r in &recs {
        body.extend_from_slice(&canon::to_canonical(r));
        body.push(b'\n');
    }
    std::fs::write(&f, &body).unwrap();
    let run = |threads: &str, db: &str, input: &std::path::Path| {
        is.issue_db(&[input], &is.file(db))
            .args(["--threads", threads, "--at", AT, "--quiet"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let one = run("1", "l1.sqlite", &f);
    let four = run("4", "l4.sqlite", &f);
    assert_eq!(lines(&one).len(), 40);
    assert_eq!(one, four, "output depends on the thread count");
    // one record at a time, in order, into a third ledger
    let mut single = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        let p = is.file(&format!("r{i}.json"));
        std::fs::write(&p, canon::to_canonical(r)).unwrap();
        single.extend_from_slice(&run("2", "ls.sqlite", &p));
    }
    assert_eq!(one, single, "bulk differs from one-at-a-time");
    // every event verifies, streamed
    let ev = is.file("events.jsonl");
    std::fs::write(&ev, &one).unwrap();
    pith()
        .args([
            "verify",
            ev.to_str().unwrap(),
            "--keyring",
            is.keys().to_str().unwrap(),
            "--quiet",
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains("40 verified, 0 failed"));
}

#[test]
fn a_bad_line_in_the_middle_is_reported_by_number_and_the_rest_go_on() {
    let is = Issuer::new();
    let mut body = Vec::new();
    for i in 0..30u32 {
        if i == 12 {
            body.extend_from_slice(b"{\"source\": \"truncated\n");
            continue;
        }
        body.extend_from_slice(&canon::to_canonical(&record_with_id(2000 + i)));
        body.push(b'\n');
    }
    let f = is.file("bad.jsonl");
    std::fs::write(&f, &body).unwrap();
    let rej = is.file("rejects.jsonl");
    let out = is
        .issue(&[&f])
        .args(["--quiet", "--rejects", rej.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("line 13"))
        .get_output()
        .stdout
        .clone();
    assert_eq!(lines(&out).len(), 29);
    let r = std::fs::read_to_string(&rej).unwrap();
    assert_eq!(r.lines().count(), 1);
    assert!(r.contains("line 13"), "{r}");
    // a corrupted bundle line in a file of bundles is named by its line
    let evs = is.file("evs.jsonl");
    let mut ls: Vec<Vec<u8>> = lines(&out).into_iter().map(<[u8]>::to_vec).collect();
    ls[5] = b"{\"event_type\": 1}".to_vec();
    std::fs::write(&evs, ls.join(&b'\n')).unwrap();
    pith()
        .args([
            "verify",
            evs.to_str().unwrap(),
            "--keyring",
            is.keys().to_str().unwrap(),
            "--quiet",
        ])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("evs.jsonl:6: FAILED"));
}

#[test]
fn bundle_lines_of_event_arrays_equal_single_bundles() {
    let b = crate::util::bundle();
    let events = canon::to_canonical(b.get("events").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("evs.jsonl");
    let mut body = events.clone();
    body.extend_from_slice(b"\n[{\"event_type\": \"record_created\"}]\n");
    body.extend_from_slice(&events);
    body.push(b'\n');
    std::fs::write(&f, &body).unwrap();
    let args = [
        "--keyring",
        "keys.example",
        "--unsigned",
        "--signer-key-id",
        "pith-v1-2026-05",
        "--built-at",
        "2026-05-24T06:12:38Z",
    ];
    let out = pith()
        .arg("bundle")
        .arg(&f)
        .args(args)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("evs.jsonl:2:"))
        .get_output()
        .stdout
        .clone();
    let ls = lines(&out);
    assert_eq!(ls.len(), 2);
    // each is the real bundle without its signature: bundle_sha256 757b3a92…
    for l in ls {
        let v = canon::parse(l).unwrap();
        assert_eq!(
            pith::sign::bundle::bundle_sha256(&v).hex(),
            b.get("bundle_signature")
                .unwrap()
                .get("bundle_sha256")
                .unwrap()
                .as_str()
                .unwrap()
        );
    }
}

/// Several chunks and several ledger transactions: signing a chunk overlaps recording the
/// previous one, and a transaction that fills up is committed before the next chunk is
/// planned. The output is the same whatever the threads and the transaction size, and the
/// ledger holds each record once, with its receipt and two signature rows.
#[test]
fn chunks_overlap_and_transactions_split_without_changing_the_output() {
    let is = Issuer::new();
    let n = 700u32; // three chunks of 256
    let f = is.file("many.jsonl");
    let mut body = Vec::new();
    for i in 0..n {
        body.extend_from_slice(&canon::to_canonical(&record_with_id(5000 + i)));
        body.push(b'\n');
    }
    // the same record again, in a later chunk and a later transaction: a reissue
    body.extend_from_slice(&canon::to_canonical(&record_with_id(5000)));
    body.push(b'\n');
    std::fs::write(&f, &body).unwrap();
    let run = |threads: &str, per_tx: &str, db: &str| {
        let out = is
            .issue_db(&[&f], &is.file(db))
            .args(["--threads", threads, "--at", AT, "--quiet"])
            .args(["--transaction-records", per_tx])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let c = rusqlite::Connection::open(is.file(db)).unwrap();
        let count = |t: &str| -> i64 {
            c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            count("records"),
            i64::from(n),
            "{threads} threads, {per_tx} per transaction"
        );
        assert_eq!(count("receipts"), i64::from(n) + 1);
        assert_eq!(count("signatures"), 2 * (i64::from(n) + 1));
        out
    };
    let base = run("1", "4096", "a.sqlite");
    assert_eq!(lines(&base).len(), n as usize + 1);
    for (threads, per_tx, db) in [
        ("2", "4096", "b.sqlite"),
        ("2", "300", "c.sqlite"),
        ("3", "1", "d.sqlite"),
        ("1", "300", "e.sqlite"),
    ] {
        assert_eq!(
            run(threads, per_tx, db),
            base,
            "{threads} threads, {per_tx} per transaction"
        );
    }
}

/// `pith issue --bundle`: one signed bundle per record, identical for 1 and N
/// threads over several chunks, every one verifying, and each the bundle that `pith bundle`
/// assembles from the same events one at a time (same digest, same signature).
#[test]
fn bulk_bundles_equal_one_at_a_time_bundles_for_1_and_n_threads() {
    let is = Issuer::new();
    // real arXiv metadata, twice over: two chunks, the second half reissues
    let snap = std::fs::read(crate::util::data("arxiv/snapshot-head200.jsonl")).unwrap();
    let f = is.file("snap.jsonl");
    std::fs::write(&f, [snap.as_slice(), snap.as_slice()].concat()).unwrap();
    let n = 400u32;
    let keyring = is.keys();
    let run = |threads: &str, db: &str| {
        is.issue_db(&[&f], &is.file(db))
            .args(["--bundle", "--keyring", keyring.to_str().unwrap()])
            .args([
                "--default-license",
                "http://arxiv.org/licenses/assumed-1991-2003/",
            ])
            .args(["--threads", threads, "--at", AT, "--quiet"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let one = run("1", "b1.sqlite");
    assert_eq!(
        one,
        run("3", "b3.sqlite"),
        "bundles depend on the thread count"
    );
    let out = is.file("bundles.jsonl");
    std::fs::write(&out, &one).unwrap();
    pith()
        .args([
            "verify",
            out.to_str().unwrap(),
            "--keyring",
            keyring.to_str().unwrap(),
        ])
        .args(["--quiet"])
        .assert()
        .success()
        .stderr(predicates::str::contains(format!("{n} verified, 0 failed")));

    let ls = lines(&one);
    assert_eq!(ls.len(), n as usize);
    for l in [ls[0], ls[137], ls[n as usize - 1]] {
        let b = canon::parse(l).unwrap();
        let ev = is.file("events.json");
        std::fs::write(&ev, canon::to_canonical(b.get("events").unwrap())).unwrap();
        let built = b.get("built_at").and_then(Value::as_str).unwrap();
        let single = pith()
            .args([
                "bundle",
                ev.to_str().unwrap(),
                "--keyring",
                keyring.to_str().unwrap(),
            ])
            .args([
                "--key",
                keyring.join("pith-test-1.key.age").to_str().unwrap(),
            ])
            .args(["--passphrase-file", is.file("pass").to_str().unwrap()])
            .args(["--built-at", built])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let single = canon::parse(&single).unwrap();
        let sig = |v: &Value, k: &str| {
            v.get("bundle_signature")
                .and_then(|s| s.get(k))
                .cloned()
                .unwrap()
        };
        assert_eq!(sig(&b, "bundle_sha256"), sig(&single, "bundle_sha256"));
        assert_eq!(sig(&b, "signature_b64"), sig(&single, "signature_b64"));
        assert_eq!(
            pith::sign::bundle::bundle_sha256(&b).hex(),
            sig(&b, "bundle_sha256").as_str().unwrap()
        );
    }
}

#[test]
fn bulk_issue_reports_each_records_notes_on_stderr_and_in_the_report_file() {
    let is = Issuer::new();
    let snap = crate::util::data("arxiv/snapshot-head200.jsonl");
    let text = std::fs::read_to_string(&snap).unwrap();
    let withdrawn: Vec<String> = text
        .lines()
        .filter(|l| l.to_lowercase().contains("withdrawn"))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(withdrawn.len(), 1, "the fixture has one withdrawn paper");
    let report = is.file("report.jsonl");
    let run = |input: &std::path::Path, force: bool| {
        let mut c = is.issue(&[input]);
        c.args(["--at", AT, "--report", report.to_str().unwrap()]);
        c.args([
            "--default-license",
            "http://arxiv.org/licenses/assumed-1991-2003/",
        ]);
        if force {
            c.arg("--force");
        }
        c.args(["-o", "/dev/null"]).assert()
    };
    let out = run(&snap, false).success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // a stream shows only the records with notes, by file and line
    let noted: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("(withdrawn)"))
        .collect();
    assert_eq!(noted.len(), 1, "{stderr}");
    assert!(noted[0].contains("head200.jsonl: line "), "{stderr}");
    assert!(stderr.contains("200 done, 0 refused"), "{stderr}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 200);
    assert!(lines.iter().all(|l| l["outcome"] == "issued"));
    let w: Vec<&serde_json::Value> = lines.iter().filter(|l| l["withdrawn"] == true).collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["notes"], serde_json::json!(["withdrawn"]));
    // the report is an output file: refused if it exists, unless --force
    run(&snap, false)
        .code(1)
        .stderr(predicates::str::contains("refusing to overwrite"));
    // changed metadata for one paper: the reissue names the number it replaces
    let first = text.lines().next().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(first).unwrap();
    v["title"] = serde_json::json!("A changed title");
    let mut body = serde_json::to_string(&v).unwrap();
    body.push('\n');
    body.push_str(text.lines().nth(1).unwrap());
    body.push('\n');
    let changed = is.file("changed.jsonl");
    std::fs::write(&changed, body).unwrap();
    let out = run(&changed, true).success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let old = lines[0]["pith_number"].as_str().unwrap();
    assert!(
        stderr.contains(&format!("(metadata changed; replaces {old})")),
        "{stderr}"
    );
    let rep = std::fs::read_to_string(&report).unwrap();
    let rep: Vec<serde_json::Value> = rep
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rep.len(), 2);
    assert_eq!(rep[0]["replaces"], old);
    assert_eq!(rep[1]["outcome"], "reissued");
    assert_eq!(rep[1]["notes"], serde_json::json!([]));
}

#[test]
fn record_report_has_a_line_per_record_and_refusals_with_their_reason() {
    let is = Issuer::new();
    let mut body = Vec::new();
    for i in 0..5u32 {
        if i == 2 {
            body.extend_from_slice(b"{\"source\": 1}\n");
            continue;
        }
        body.extend_from_slice(&canon::to_canonical(&record_with_id(3000 + i)));
        body.push(b'\n');
    }
    let f = is.file("in.jsonl");
    std::fs::write(&f, &body).unwrap();
    let report = is.file("report.jsonl");
    pith()
        .args([
            "record",
            f.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("4 record(s), 1 refused"));
    let rep: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rep.len(), 5);
    assert_eq!(rep[2]["outcome"], "refused");
    assert_eq!(rep[2]["record"], "line 3");
    assert!(rep[2]["message"].as_str().unwrap().len() > 5);
    assert_eq!(rep[0]["outcome"], "record");
    assert!(
        rep[0]["pith_number"].as_str().unwrap().starts_with("pith:"),
        "{}",
        rep[0]
    );
}
