//! The transparency log in the ledger: one leaf per stored event version, appended in the
//! same transaction; the tree head and proofs checked by an independent implementation
//! (Cloudflare azul's `tlog_tiles`, a port of Go's `sumdb/tlog`), never by pith's own.

use std::path::Path;

use pith::format::canon::{self, Value};
use pith::registry::ledger::Ledger;
use tlog_tiles::tlog::{self, Hash, HashReader};

use crate::util::pith;

pub const KEY: &str = "keys.example/pith-example-2026-11.key.age";
pub const PASS: &str = "keys.example/example.passphrase";

/// An in-memory `HashReader`: the stored hashes `tlog_tiles` computes as records arrive.
pub struct Stored(pub Vec<Hash>);

impl HashReader for Stored {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

/// `tlog_tiles`' stored hashes for these entries, in order.
pub fn stored(entries: &[Vec<u8>]) -> Stored {
    let mut s = Stored(Vec::new());
    for (n, e) in entries.iter().enumerate() {
        let more = tlog::stored_hashes(n as u64, e, &s).unwrap();
        s.0.extend(more);
    }
    s
}

pub fn issue(src: &str, db: &Path) {
    pith()
        .args([
            "issue",
            src,
            "--default-license",
            "http://example.org/l",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
            db.to_str().unwrap(),
            "--force",
            "-o",
        ])
        .arg(db.with_extension("events.jsonl"))
        .assert()
        .success();
}

/// (idx, entry, leaf_hash, the logged version's event) for every leaf.
fn rows(db: &Path) -> Vec<(i64, String, String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT l.idx, l.entry, l.leaf_hash, v.event FROM log_leaves l JOIN event_versions v ON v.seq = l.version_seq ORDER BY l.idx")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn q(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn every_stored_version_is_a_leaf_and_the_head_and_proofs_check_with_tlog_tiles() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    let rows = rows(&db);
    assert_eq!(rows.len(), 200);
    assert_eq!(
        rows.len() as i64,
        q(&db, "SELECT COUNT(*) FROM event_versions")
    );
    // the entry (spec, decided): six fields, read off the event it logs
    for (i, (idx, entry, _, event)) in rows.iter().enumerate() {
        assert_eq!(*idx, i as i64);
        let e: serde_json::Value = serde_json::from_str(entry).unwrap();
        let ev: serde_json::Value = serde_json::from_str(event).unwrap();
        let want = serde_json::json!({
            "entry_type": "pith_log_event_v1",
            "event_id": ev["event_id"],
            "event_type": ev["event_type"],
            "signature_b64": ev["signature"]["signature_b64"],
            "signer": ev["signature"]["public_key_fingerprint"],
            "subject": ev["subject_pith_number"],
        });
        assert_eq!(e, want);
        // canonical: what Python's json.dumps(sort_keys, compact) writes
        assert_eq!(entry, &serde_json::to_string(&want).unwrap());
    }
    let entries: Vec<Vec<u8>> = rows.iter().map(|r| r.1.as_bytes().to_vec()).collect();
    let s = stored(&entries);
    let n = entries.len() as u64;
    let th = tlog::tree_hash(n, &s).unwrap();
    let ledger = Ledger::open(&db).unwrap();
    let (size, root) = ledger.log_head().unwrap();
    assert_eq!((size, root.0), (n, th.0));
    // every event's inclusion proof, as pith gives it, checks with tlog_tiles
    for (idx, _, leaf, event) in rows.iter().step_by(7) {
        let id = canon::parse(event.as_bytes()).unwrap();
        let id = id
            .get("event_id")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        let inc = ledger.log_inclusion(&id).unwrap();
        assert_eq!(inc.proofs.len(), 1);
        let (i, _, proof) = &inc.proofs[0];
        assert_eq!(*i, *idx as u64);
        let p: Vec<Hash> = proof.iter().map(|h| Hash(h.0)).collect();
        let h = Hash::parse_hash(&base64_of_hex(leaf)).unwrap();
        tlog::check_record(&p, n, th, *i, h).unwrap();
        // and the wrong leaf is refused
        assert!(tlog::check_record(&p, n, th, *i, Hash([0; 32])).is_err());
    }
    // consistency from every 13th size to now, checked with tlog_tiles
    for m in (1..n).step_by(13) {
        let (size, root, proof) = ledger.log_consistency(m).unwrap().unwrap();
        assert_eq!((size, root.0), (n, th.0));
        let old = tlog::tree_hash(m, &s).unwrap();
        let p: Vec<Hash> = proof.iter().map(|h| Hash(h.0)).collect();
        tlog::check_tree(&p, n, th, m, old).unwrap();
    }
    // a reissue is a new signature: logged after, nothing before it rewritten
    drop(ledger);
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    let again = self::rows(&db);
    assert_eq!(again.len(), 400);
    assert_eq!(again[..200], rows[..]);
    // and storing the events already stored logs nothing
    pith()
        .args(["registry", "add", "--keyring", "keys.example", "--registry"])
        .arg(&db)
        .arg(db.with_extension("events.jsonl"))
        .assert()
        .success()
        .stderr(predicates::str::contains("stored 0 artifact(s)"));
    assert_eq!(q(&db, "SELECT COUNT(*) FROM log_leaves"), 400);
}

fn base64_of_hex(h: &str) -> String {
    use base64::Engine;
    let b: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn a_log_that_disagrees_with_its_entries_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("l.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &base);
    let copy = |name: &str| {
        let p = tmp.path().join(name);
        // a consistent copy: VACUUM INTO folds the WAL in
        rusqlite::Connection::open(&base)
            .unwrap()
            .execute("VACUUM INTO ?1", [p.to_str().unwrap()])
            .unwrap();
        p
    };
    let exec = |db: &Path, sql: &str| {
        rusqlite::Connection::open(db)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    };
    // an entry edited (and its hash with it): found by check and by every log read
    let edited = copy("edited.sqlite");
    exec(
        &edited,
        "UPDATE log_leaves SET entry = replace(entry, 'pith_log_event_v1', 'pith_log_event_v2') WHERE idx = 5",
    );
    pith()
        .args(["registry", "check", "--registry", edited.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "log leaf 5: not the entry of the event version it logs",
        ));
    let err = Ledger::open(&edited).unwrap().log_head().unwrap_err();
    assert!(err.to_string().contains("log leaf 5"), "{err}");
    // a leaf's hash edited: the same
    let rehashed = copy("rehashed.sqlite");
    exec(
        &rehashed,
        "UPDATE log_leaves SET leaf_hash = '00' || substr(leaf_hash, 3) WHERE idx = 9",
    );
    assert!(Ledger::open(&rehashed).unwrap().log_head().is_err());
    // the newest leaf cut off, or a leaf's entry and hash replaced at the top: refused at open
    let cut = copy("cut.sqlite");
    exec(&cut, "DELETE FROM log_leaves WHERE idx = 199");
    let err = Ledger::open(&cut).expect_err("a cut log is refused");
    assert!(
        err.to_string()
            .contains("199 leaves for 200 stored event versions"),
        "{err}"
    );
    let top = copy("top.sqlite");
    exec(
        &top,
        "UPDATE log_leaves SET leaf_hash = '00' || substr(leaf_hash, 3) WHERE idx = 199",
    );
    let err = Ledger::open(&top).expect_err("a wrong top leaf is refused");
    assert!(err.to_string().contains("log leaf 199"), "{err}");
    // nothing rewrote the original
    let ledger = Ledger::open(&base).unwrap();
    assert!(ledger.check().unwrap().problems.is_empty());
    assert_eq!(ledger.log_head().unwrap().0, 200);
}

#[test]
fn a_schema_2_ledger_gets_its_log_backfilled_in_store_order() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    let before = rows(&db);
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "DROP TABLE log_leaves; UPDATE meta SET value = '2' WHERE key = 'schema_version'; PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    // reading it as schema 2 works; the first write upgrades it
    pith()
        .args(["registry", "export", "--registry", db.to_str().unwrap()])
        .assert()
        .success();
    drop(Ledger::open(&db).unwrap());
    assert_eq!(q(&db, "PRAGMA user_version"), 4);
    assert_eq!(rows(&db), before);
}

const ORIGIN: &str = "pith.science/log";

/// Sign a checkpoint of `db`'s log with the example key into `out`.
fn checkpoint(db: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    pith()
        .args([
            "log",
            "checkpoint",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
        ])
        .arg(db)
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg("--force")
        .assert()
}

/// The example key's public key, from its document.
fn example_public() -> Vec<u8> {
    let doc = crate::util::json("../../keys.example/pith-example-2026-11.pub.json");
    crate::util::unhex(doc["public_key_hex"].as_str().unwrap())
}

/// A `signed_note` verifier for the example key under `name` (C2SP vkey syntax).
fn verifier(name: &str) -> signed_note::VerifierList {
    use base64::Engine;
    let mut key = vec![1u8];
    key.extend(example_public());
    let id = signed_note::key_id(name, &key);
    let vkey = format!(
        "{name}+{id:08x}+{}",
        base64::engine::general_purpose::STANDARD.encode(&key)
    );
    signed_note::VerifierList::new(vec![Box::new(
        signed_note::StandardVerifier::new(&vkey).unwrap(),
    )])
}

/// Every leaf's entry, events and key statements, in order.
fn entries_of(db: &Path) -> Vec<Vec<u8>> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT entry FROM log_leaves ORDER BY idx")
        .unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|e| e.unwrap().into_bytes())
        .collect()
}

#[test]
fn a_checkpoint_is_a_c2sp_signed_note_that_signed_note_and_tlog_tiles_accept() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    let cp = tmp.path().join("checkpoint");
    checkpoint(&db, &cp, &[])
        .success()
        .stderr(predicates::str::contains(
            "signed checkpoint of pith.science/log (201 leaves)",
        ));
    let text = std::fs::read(&cp).unwrap();
    // the signature verifies with an independent signed-note implementation
    let note = signed_note::Note::from_bytes(&text).unwrap();
    let (ok, unknown) = note.verify(&verifier(ORIGIN)).unwrap();
    assert_eq!((ok.len(), unknown.len()), (1, 0));
    // the body is a checkpoint of the tree tlog_tiles computes from the entries
    let body = tlog_tiles::Checkpoint::from_bytes(note.text()).unwrap();
    assert_eq!((body.origin(), body.size()), (ORIGIN, 201));
    let entries = entries_of(&db);
    let th = tlog::tree_hash(201, &stored(&entries)).unwrap();
    assert_eq!(body.hash().0, th.0);
    // the 201st leaf: the keyring's key transition, logged before the checkpoint
    let t: serde_json::Value = crate::util::json(
        "../../keys.example/pith-example-2026-11--pith-example-2027-11.transition.json",
    );
    let e: serde_json::Value = serde_json::from_slice(&entries[200]).unwrap();
    let fps: Vec<&str> = t["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["public_key_fingerprint"].as_str().unwrap())
        .collect();
    let mut signers = fps.clone();
    signers.sort();
    assert_eq!(
        e,
        serde_json::json!({
            "entry_type": "pith_log_key_statement_v1",
            "keys": [t["from_key"]["public_key_fingerprint"], t["to_key"]["public_key_fingerprint"]],
            "signers": signers,
            "statement_sha256": t["statement_sha256"],
            "statement_type": t["statement_type"],
        })
    );
    // under another name the key's hash differs: signed_note finds no verifier
    assert!(
        signed_note::Note::from_bytes(&text)
            .unwrap()
            .verify(&verifier("other.example/log"))
            .is_err()
    );
    // kept in the ledger; the same checkpoint again adds nothing
    checkpoint(&db, &cp, &[]).success();
    assert_eq!(q(&db, "SELECT COUNT(*) FROM log_checkpoints"), 1);
    assert_eq!(
        q(&db, "SELECT size FROM log_checkpoints"),
        201,
        "the kept checkpoint is the tree signed"
    );
    assert_eq!(
        q(&db, "SELECT COUNT(*) FROM key_statements"),
        1,
        "logged once"
    );
    // the log keeps its first origin; reserved origins are refused
    let other = tmp.path().join("other");
    checkpoint(&db, &other, &["--origin", "other.example/log"])
        .code(1)
        .stderr(predicates::str::contains(
            "this log's checkpoints have origin \"pith.science/log\"",
        ));
    let fresh = tmp.path().join("fresh.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &fresh);
    for bad in [
        "pith-domain-v1:log",
        "{\"a\":1}",
        "a b",
        "a+b",
        "cosignature/v1",
    ] {
        checkpoint(&fresh, &other, &["--origin", bad])
            .code(2)
            .stderr(predicates::str::contains("for '--origin <ORIGIN>'"));
    }
    assert!(!other.exists());
}

/// Run `pith verify` of `bundle` against the log.
fn verify_in_log(bundle: &Path, args: &[&std::ffi::OsStr]) -> assert_cmd::assert::Assert {
    pith()
        .arg("verify")
        .arg(bundle)
        .args(["--keyring", "keys.example"])
        .args(args)
        .assert()
}

fn bundle_of(db: &Path, number: &str, out: &Path) {
    pith()
        .args([
            "bundle",
            number,
            "--keyring",
            "keys.example",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
        ])
        .arg(db)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

fn first_subject(db: &Path) -> String {
    let ev = &rows(db)[0].3;
    let v: serde_json::Value = serde_json::from_str(ev).unwrap();
    v["subject_pith_number"].as_str().unwrap().to_owned()
}

#[test]
fn prove_writes_proofs_that_tlog_tiles_checks_and_verify_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    let cp = tmp.path().join("checkpoint");
    checkpoint(&db, &cp, &[]).success();
    let number = first_subject(&db);
    let proof = tmp.path().join("proof.json");
    pith()
        .args(["log", "prove", &number, "--registry"])
        .arg(&db)
        .arg("-o")
        .arg(&proof)
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof).unwrap()).unwrap();
    let entries = entries_of(&db);
    let s = stored(&entries);
    let th = tlog::tree_hash(201, &s).unwrap();
    assert_eq!(doc["tree_size"], 201);
    for leaf in doc["leaves"].as_array().unwrap() {
        let i = leaf["leaf_index"].as_u64().unwrap();
        let entry = serde_json::to_string(&leaf["entry"]).unwrap();
        assert_eq!(entry.as_bytes(), &entries[i as usize][..]);
        let p: Vec<Hash> = leaf["path_b64"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::parse_hash(h.as_str().unwrap()).unwrap())
            .collect();
        tlog::check_record(&p, 201, th, i, tlog::record_hash(entry.as_bytes())).unwrap();
    }
    // a consistency proof from the CLI checks with tlog_tiles
    let out = pith()
        .args(["log", "prove", "--from", "77", "--registry"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (c["old_size"].as_u64(), c["tree_size"].as_u64()),
        (Some(77), Some(201))
    );
    let p: Vec<Hash> = c["path_b64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::parse_hash(h.as_str().unwrap()).unwrap())
        .collect();
    tlog::check_tree(&p, 201, th, 77, tlog::tree_hash(77, &s).unwrap()).unwrap();
    // verify: the bundle's event is in the checkpoint's tree
    let bundle = tmp.path().join("b.json");
    bundle_of(&db, &number, &bundle);
    let (cpa, pa) = (
        std::ffi::OsString::from(&cp),
        std::ffi::OsString::from(&proof),
    );
    let args = |extra: &[&str]| {
        let mut v: Vec<std::ffi::OsString> = vec![
            "--checkpoint".into(),
            cpa.clone(),
            "--proof".into(),
            pa.clone(),
        ];
        v.extend(extra.iter().map(std::ffi::OsString::from));
        v
    };
    let run = |a: Vec<std::ffi::OsString>| {
        let r: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        verify_in_log(&bundle, &r)
    };
    run(args(&[])).success().stdout(predicates::str::contains(
        "its 1 event(s) in log pith.science/log (tree of 201 leaves",
    ));
    // a reader expecting another log refuses it
    run(args(&["--origin", "other.example/log"]))
        .code(1)
        .stderr(predicates::str::contains(
            "not the expected \"other.example/log\"",
        ));
    // proofs of another paper do not prove this one
    let other = rows(&db)[1].3.clone();
    let other: serde_json::Value = serde_json::from_str(&other).unwrap();
    let other_proof = tmp.path().join("other-proof.json");
    pith()
        .args([
            "log",
            "prove",
            other["event_id"].as_str().unwrap(),
            "--registry",
        ])
        .arg(&db)
        .arg("-o")
        .arg(&other_proof)
        .assert()
        .success();
    let r = [
        std::ffi::OsStr::new("--checkpoint"),
        cp.as_os_str(),
        std::ffi::OsStr::new("--proof"),
        other_proof.as_os_str(),
    ];
    verify_in_log(&bundle, &r)
        .code(1)
        .stdout(predicates::str::contains(
            "is not proved to be in the log's tree of 201 leaves",
        ));
    // a proof document with a field more is refused before anything is checked
    let mut extra = doc.clone();
    extra["note"] = "x".into();
    let extra_p = tmp.path().join("extra.json");
    std::fs::write(&extra_p, serde_json::to_vec(&extra).unwrap()).unwrap();
    let r = [
        std::ffi::OsStr::new("--checkpoint"),
        cp.as_os_str(),
        std::ffi::OsStr::new("--proof"),
        extra_p.as_os_str(),
    ];
    verify_in_log(&bundle, &r)
        .code(2)
        .stderr(predicates::str::contains("unexpected field \"note\""));
    // a path element changed: the leaf no longer leads to the root
    let mut bent = doc.clone();
    bent["leaves"][0]["path_b64"][0] = base64_of_hex(&"00".repeat(32)).into();
    let bent_p = tmp.path().join("bent.json");
    std::fs::write(&bent_p, serde_json::to_vec(&bent).unwrap()).unwrap();
    let r = [
        std::ffi::OsStr::new("--checkpoint"),
        cp.as_os_str(),
        std::ffi::OsStr::new("--proof"),
        bent_p.as_os_str(),
    ];
    verify_in_log(&bundle, &r).code(1);
    // a checkpoint whose root line was changed no longer verifies
    let text = std::fs::read_to_string(&cp).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    let forged = text.replace(lines[2], &base64_of_hex(&"11".repeat(32)));
    let forged_p = tmp.path().join("forged");
    std::fs::write(&forged_p, forged).unwrap();
    let r = [
        std::ffi::OsStr::new("--checkpoint"),
        forged_p.as_os_str(),
        std::ffi::OsStr::new("--proof"),
        proof.as_os_str(),
    ];
    verify_in_log(&bundle, &r)
        .code(1)
        .stderr(predicates::str::contains(
            "signature by key pith-example-2026-11 does not verify",
        ));
}

fn publish(db: &Path, site: &Path) -> assert_cmd::assert::Assert {
    pith()
        .args([
            "publish",
            "--keyring",
            "keys.example",
            "--json",
            "--registry",
        ])
        .arg(db)
        .arg("--out")
        .arg(site)
        .assert()
}

/// The files a `publish --json` run wrote.
fn written(a: &assert_cmd::assert::Assert) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    v["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect()
}

/// The hash tiles tlog_tiles says a tree grown from `old` to `new` publishes, with their
/// contents, in C2SP paths (`tile/<L>/…`; tlog_tiles writes Go's `tile/<H>/<L>/…`).
fn expected_tiles(old: u64, new: u64, s: &Stored) -> Vec<(String, Vec<u8>)> {
    tlog_tiles::Tile::new_tiles(8, old, new)
        .into_iter()
        .map(|t| {
            let p = t.path().replacen("tile/8/", "log/tile/", 1);
            (p, t.read_data(s).unwrap())
        })
        .collect()
}

fn vacuum_copy(db: &Path, to: &Path) {
    rusqlite::Connection::open(db)
        .unwrap()
        .execute("VACUUM INTO ?1", [to.to_str().unwrap()])
        .unwrap();
}

#[test]
fn publish_serves_c2sp_tiles_incrementally_never_back_and_verify_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, site) = (tmp.path().join("l.sqlite"), tmp.path().join("site"));
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    // no checkpoint yet: the log is not served
    publish(&db, &site).success();
    assert!(!site.join("log").exists());
    checkpoint(&db, &tmp.path().join("cp"), &[]).success();
    let first = publish(&db, &site).success();
    let entries = entries_of(&db);
    let s = stored(&entries);
    let want = expected_tiles(0, 201, &s);
    assert_eq!(want.len(), 1, "one partial tile of 201 leaf hashes");
    let got: Vec<String> = written(&first)
        .into_iter()
        .filter(|w| w.starts_with("log/tile/") && !w.starts_with("log/tile/entries/"))
        .collect();
    assert_eq!(got, want.iter().map(|w| w.0.clone()).collect::<Vec<_>>());
    for (p, data) in &want {
        assert_eq!(&std::fs::read(site.join(p)).unwrap(), data, "{p}");
    }
    // the entry bundle: big-endian u16 lengths and the entries, in order
    let bundle = std::fs::read(site.join("log/tile/entries/000.p/201")).unwrap();
    let mut at = 0;
    for e in &entries {
        let len = u16::from_be_bytes([bundle[at], bundle[at + 1]]) as usize;
        assert_eq!(&bundle[at + 2..at + 2 + len], &e[..]);
        at += 2 + len;
    }
    assert_eq!(at, bundle.len());
    assert_eq!(
        std::fs::read(site.join("log/checkpoint")).unwrap(),
        std::fs::read(tmp.path().join("cp")).unwrap()
    );
    // a reader with the tree alone: checkpoint, tiles, the paper's leaf indices
    let number = first_subject(&db);
    let b = tmp.path().join("b.json");
    bundle_of(&db, &number, &b);
    let tiles = [std::ffi::OsStr::new("--tiles"), site.as_os_str()];
    verify_in_log(&b, &tiles)
        .success()
        .stdout(predicates::str::contains("(tree of 201 leaves"));
    // the tree grows: only the tiles that grew are written, the served log moves forward
    let at200 = tmp.path().join("at201.sqlite");
    vacuum_copy(&db, &at200);
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    checkpoint(&db, &tmp.path().join("cp2"), &[]).success();
    let second = publish(&db, &site).success();
    let entries = entries_of(&db);
    let s = stored(&entries);
    let want = expected_tiles(201, 401, &s);
    assert_eq!(
        want.len(),
        3,
        "level 0: 000 and 001.p/145; level 1: 000.p/1"
    );
    let got: Vec<String> = written(&second)
        .into_iter()
        .filter(|w| w.starts_with("log/tile/"))
        .collect();
    let mut expect: Vec<String> = want.iter().map(|w| w.0.clone()).collect();
    expect.extend([
        "log/tile/entries/000".to_owned(),
        "log/tile/entries/001.p/145".to_owned(),
    ]);
    let (mut got, mut expect) = (got, expect);
    got.sort();
    expect.sort();
    assert_eq!(got, expect);
    for (p, data) in &want {
        assert_eq!(&std::fs::read(site.join(p)).unwrap(), data, "{p}");
    }
    // the old partial tile stays: it is immutable at its width
    assert!(site.join("log/tile/0/000.p/201").exists());
    // the bundle verifies against the new tree too; the paper's later leaf is listed
    verify_in_log(&b, &tiles)
        .success()
        .stdout(predicates::str::contains("(tree of 401 leaves"));
    let hint: serde_json::Value = serde_json::from_slice(
        &std::fs::read(site.join(format!(
            "pith/{}/log.json",
            number.rsplit(':').next().unwrap()
        )))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(hint["log_leaves"].as_array().unwrap().len(), 2);
    // publishing again writes nothing new
    let again = publish(&db, &site).success();
    assert!(written(&again).iter().all(|w| !w.starts_with("log/")));
    // the served log never moves back: a ledger whose checkpoint is older is refused
    publish(&at200, &site)
        .code(1)
        .stderr(predicates::str::contains("refusing to move it back to 201"));
    // nor to another tree of the same size (a fork)
    let fork = tmp.path().join("fork.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &fork);
    issue("tests/data/arxiv/snapshot-head200.jsonl", &fork);
    checkpoint(&fork, &tmp.path().join("cpf"), &[]).success();
    publish(&fork, &site)
        .code(1)
        .stderr(predicates::str::contains("a fork"));
    assert_eq!(
        std::fs::read(site.join("log/checkpoint")).unwrap(),
        std::fs::read(tmp.path().join("cp2")).unwrap()
    );
    // a served hash tile altered: the proof no longer reaches the checkpoint's root
    let bad = tmp.path().join("bad-site");
    copy_dir(&site, &bad);
    let t = bad.join("log/tile/0/000");
    let mut data = std::fs::read(&t).unwrap();
    data[40] ^= 1;
    std::fs::write(&t, data).unwrap();
    let r = [std::ffi::OsStr::new("--tiles"), bad.as_os_str()];
    verify_in_log(&b, &r)
        .code(1)
        .stdout(predicates::str::contains("FAILED bundle"));
    // a leaf index hint pointing elsewhere proves nothing
    let bad2 = tmp.path().join("bad-site2");
    copy_dir(&site, &bad2);
    let h = bad2.join(format!(
        "pith/{}/log.json",
        number.rsplit(':').next().unwrap()
    ));
    let text = std::fs::read_to_string(&h).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for l in v["log_leaves"].as_array_mut().unwrap() {
        l["leaf_index"] = (l["leaf_index"].as_u64().unwrap() + 1).into();
    }
    std::fs::write(&h, serde_json::to_vec(&v).unwrap()).unwrap();
    let r = [std::ffi::OsStr::new("--tiles"), bad2.as_os_str()];
    verify_in_log(&b, &r)
        .code(1)
        .stdout(predicates::str::contains("is not among the paper's leaves"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &p);
        } else {
            std::fs::copy(e.path(), &p).unwrap();
        }
    }
}

fn audit(site: &Path, ring: &Path, state: &Path) -> assert_cmd::assert::Assert {
    pith()
        .args(["log", "audit"])
        .arg(site)
        .arg("--keyring")
        .arg(ring)
        .arg("--state")
        .arg(state)
        .assert()
}

/// A ledger of the 200-record snapshot, its bundles, a checkpoint, and the tree served.
fn served_registry(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let db = dir.join(format!("{name}.sqlite"));
    let site = dir.join(format!("{name}-site"));
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    bundles(&db, "--all");
    checkpoint(&db, &dir.join(format!("{name}.cp")), &[]).success();
    publish(&db, &site).success();
    (db, site)
}

fn bundles(db: &Path, which: &str) {
    pith()
        .args([
            "bundle",
            which,
            "--keyring",
            "keys.example",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "-q",
            "--registry",
        ])
        .arg(db)
        .arg("-o")
        .arg(db.with_extension(format!("bundles{which}.jsonl")))
        .arg("--force")
        .assert()
        .success();
}

#[test]
fn audit_recomputes_the_served_log_and_catches_rollback_forks_and_unlogged_events() {
    let tmp = tempfile::tempdir().unwrap();
    let ring = Path::new("keys.example");
    let (db, site) = served_registry(tmp.path(), "a");
    let state = tmp.path().join("state.json");
    audit(&site, ring, &state)
        .success()
        .stdout(predicates::str::contains(
            "audited log pith.science/log: 201 leaves (200 events, 1 key statements)",
        ))
        .stdout(predicates::str::contains("200 served bundle(s) checked"));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(s["tree_size"], 201);
    assert_eq!(s["state_type"], "pith_log_monitor_state_v1");
    let old_site = tmp.path().join("old-site");
    copy_dir(&site, &old_site);
    // bundles published ahead of the checkpoint: publish warns, the monitor finds them
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    bundles(&db, "--pending");
    publish(&db, &site)
        .success()
        .stderr(predicates::str::contains(
            "200 leaves beyond the served checkpoint of 201",
        ));
    audit(&site, ring, &state)
        .code(1)
        .stdout(predicates::str::contains("is served but not in the log"));
    let unchanged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(unchanged, s, "a failed audit does not move the state");
    // signed and served: sound, and the state moves forward
    checkpoint(&db, &tmp.path().join("a2.cp"), &[]).success();
    publish(&db, &site).success();
    audit(&site, ring, &state)
        .success()
        .stdout(predicates::str::contains("401 leaves"))
        .stdout(predicates::str::contains("last audited at 201"));
    // the older tree served again: a rollback
    audit(&old_site, ring, &state)
        .code(1)
        .stdout(predicates::str::contains(
            "rollback: the log had 401 leaves when last audited, its checkpoint now says 201",
        ));
    // another registry's log of the same origin and key: a fork of what was seen
    let (fdb, fsite) = served_registry(tmp.path(), "f");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &fdb);
    checkpoint(&fdb, &tmp.path().join("f2.cp"), &[]).success();
    publish(&fdb, &fsite).success();
    audit(&fsite, ring, &state)
        .code(1)
        .stdout(predicates::str::contains(
            "fork: the first 401 leaves no longer hash",
        ));
    // an entry rewritten in the served tiles: its hashes no longer make the root
    let bent = tmp.path().join("bent-site");
    copy_dir(&site, &bent);
    let t = bent.join("log/tile/entries/000");
    let data = std::fs::read(&t).unwrap();
    let text = String::from_utf8_lossy(&data).replacen("record_created", "record_createe", 1);
    std::fs::write(&t, text.as_bytes()).unwrap();
    audit(&bent, ring, &tmp.path().join("fresh-state.json"))
        .code(1)
        .stdout(predicates::str::contains("not to the checkpoint's root"));
    // a key statement the auditor trusts that the log never showed
    let ring2 = tmp.path().join("ring2");
    copy_dir(ring, &ring2);
    pith()
        .args([
            "key",
            "revoke",
            "pith-example-2027-11",
            "--at",
            "2026-11-30T00:00:00Z",
            "--reason",
            "superseded",
            "--passphrase-file",
            PASS,
            "--keyring",
        ])
        .arg(&ring2)
        .assert()
        .success();
    audit(&site, &ring2, &tmp.path().join("s2.json"))
        .code(1)
        .stdout(predicates::str::contains(
            "is trusted by the keyring but not in the log",
        ));
}

/// A witness key made with `pith key generate` in `dir`: (key file, passphrase file, raw
/// public key).
fn witness_key(dir: &Path, id: &str) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let pass = dir.join(format!("{id}.pass"));
    std::fs::write(&pass, "witness passphrase\n").unwrap();
    let out = dir.join(id);
    pith()
        .args([
            "key",
            "generate",
            "--key-id",
            id,
            "--scrypt-log-n",
            "10",
            "-q",
            "--passphrase-file",
        ])
        .arg(&pass)
        .arg("--out-dir")
        .arg(&out)
        .assert()
        .success();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("{id}.pub.json"))).unwrap())
            .unwrap();
    let raw = crate::util::unhex(doc["public_key_hex"].as_str().unwrap());
    (out.join(format!("{id}.key.age")), pass, raw)
}

fn cosign(
    cp: &Path,
    w: &(std::path::PathBuf, std::path::PathBuf, Vec<u8>),
    name: &str,
    state: &Path,
    out: &Path,
    extra: &[&std::ffi::OsStr],
) -> assert_cmd::assert::Assert {
    pith()
        .args(["witness", "cosign"])
        .arg(cp)
        .arg("--key")
        .arg(&w.0)
        .arg("--passphrase-file")
        .arg(&w.1)
        .args(["--name", name, "--log-keyring", "keys.example", "--state"])
        .arg(state)
        .arg("-o")
        .arg(out)
        .arg("--force")
        .args(extra)
        .assert()
}

#[test]
fn a_witness_cosigns_only_forward_and_verify_requires_the_policys_quorum() {
    use base64::Engine;
    use sha2::Digest;
    let tmp = tempfile::tempdir().unwrap();
    let (db, site) = served_registry(tmp.path(), "a");
    let wa = witness_key(tmp.path(), "witness-a");
    let wb = witness_key(tmp.path(), "witness-b");
    let state = tmp.path().join("wstate");
    let cp = site.join("log/checkpoint");
    let cosigned = tmp.path().join("cosigned");
    cosign(&cp, &wa, "witness.example/a", &state, &cosigned, &[])
        .success()
        .stderr(predicates::str::contains(
            "cosigned pith.science/log at 201 leaves as witness witness.example/a",
        ));
    // the cosignature line, read by the letter of C2SP tlog-cosignature
    let text = std::fs::read_to_string(&cosigned).unwrap();
    let body = std::fs::read_to_string(&cp).unwrap();
    let body = body.split("\n\n").next().unwrap().to_owned() + "\n";
    let last = text.lines().last().unwrap();
    let b64 = last.strip_prefix("\u{2014} witness.example/a ").unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(raw.len(), 4 + 8 + 64);
    let mut h = sha2::Sha256::new();
    h.update(b"witness.example/a\n\x04");
    h.update(&wa.2);
    assert_eq!(
        &raw[..4],
        &h.finalize()[..4],
        "key hash of a cosignature/v1 key"
    );
    let t = u64::from_be_bytes(raw[4..12].try_into().unwrap());
    let msg = format!("cosignature/v1\ntime {t}\n{body}");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&wa.2.clone().try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).unwrap();
    vk.verify_strict(msg.as_bytes(), &sig).unwrap();
    // the log's own signature is still there and verifies with signed_note
    let note = signed_note::Note::from_bytes(text.as_bytes()).unwrap();
    let (ok, unknown) = note.verify(&verifier(ORIGIN)).unwrap();
    assert_eq!((ok.len(), unknown.len()), (1, 1));
    // policies
    let policy = |q: usize, ws: &[(&str, &Vec<u8>)]| {
        let p = tmp.path().join(format!("policy-{q}-{}.json", ws.len()));
        let list: Vec<serde_json::Value> = ws
            .iter()
            .map(|(n, k)| serde_json::json!({"name": n, "public_key_b64": base64::engine::general_purpose::STANDARD.encode(k)}))
            .collect();
        std::fs::write(
            &p,
            serde_json::to_vec(&serde_json::json!({"policy_type": "pith_witness_policy_v1", "quorum": q, "witnesses": list})).unwrap(),
        )
        .unwrap();
        p
    };
    let number = first_subject(&db);
    let b = tmp.path().join("b.json");
    bundle_of(&db, &number, &b);
    let one = policy(
        1,
        &[("witness.example/a", &wa.2), ("witness.example/b", &wb.2)],
    );
    let two = policy(
        2,
        &[("witness.example/a", &wa.2), ("witness.example/b", &wb.2)],
    );
    let args = |p: &Path| {
        vec![
            std::ffi::OsString::from("--tiles"),
            site.clone().into_os_string(),
            "--checkpoint".into(),
            cosigned.clone().into_os_string(),
            "--witness-policy".into(),
            p.as_os_str().to_owned(),
        ]
    };
    let run = |a: Vec<std::ffi::OsString>| {
        let r: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        verify_in_log(&b, &r)
    };
    run(args(&one))
        .success()
        .stderr(predicates::str::contains("cosigned by witness.example/a"));
    run(args(&two)).code(1).stderr(predicates::str::contains(
        "cosigned by 1 of the policy's witnesses (witness.example/a), 2 required",
    ));
    // a cosignature under another name, or by another key, does not count
    let wrong = policy(1, &[("witness.example/b", &wa.2)]);
    run(args(&wrong)).code(1);
    // the log grows: without a consistency proof from what was cosigned, no cosignature
    let before = std::fs::read(
        std::fs::read_dir(&state)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    bundles(&db, "--pending");
    checkpoint(&db, &tmp.path().join("a2.cp"), &[]).success();
    publish(&db, &site).success();
    let out2 = tmp.path().join("cosigned2");
    cosign(&cp, &wa, "witness.example/a", &state, &out2, &[])
        .code(1)
        .stderr(predicates::str::contains(
            "a consistency proof from 201 is needed",
        ));
    // a proof from another size is refused
    let prove = |from: &str, to: &Path| {
        pith()
            .args(["log", "prove", "--from", from, "--force", "--registry"])
            .arg(&db)
            .arg("-o")
            .arg(to)
            .assert()
            .success();
    };
    let p100 = tmp.path().join("p100.json");
    prove("100", &p100);
    cosign(
        &cp,
        &wa,
        "witness.example/a",
        &state,
        &out2,
        &[std::ffi::OsStr::new("--proof"), p100.as_os_str()],
    )
    .code(1)
    .stderr(predicates::str::contains(
        "does not show the tree of 201 leaves",
    ));
    let after_refusals = std::fs::read(
        std::fs::read_dir(&state)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    assert_eq!(
        before, after_refusals,
        "a refused cosignature moves no state"
    );
    let p201 = tmp.path().join("p201.json");
    prove("201", &p201);
    cosign(
        &cp,
        &wa,
        "witness.example/a",
        &state,
        &out2,
        &[std::ffi::OsStr::new("--proof"), p201.as_os_str()],
    )
    .success()
    .stderr(predicates::str::contains("at 401 leaves"));
    // the older checkpoint again: the log moved back
    cosign(
        &tmp.path().join("a.cp"),
        &wa,
        "witness.example/a",
        &state,
        &out2,
        &[],
    )
    .code(1)
    .stderr(predicates::str::contains("the log moved back: 201 leaves"));
    // another tree of the same size: a fork
    let (fdb, _) = served_registry(tmp.path(), "f");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &fdb);
    checkpoint(&fdb, &tmp.path().join("f2.cp"), &[]).success();
    cosign(
        &tmp.path().join("f2.cp"),
        &wa,
        "witness.example/a",
        &state,
        &out2,
        &[],
    )
    .code(1)
    .stderr(predicates::str::contains("a fork"));
}

#[test]
fn a_key_statement_made_with_registry_is_logged_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.sqlite");
    issue("tests/data/arxiv/snapshot-head200.jsonl", &db);
    let ring = tmp.path().join("ring");
    copy_dir(Path::new("keys.example"), &ring);
    pith()
        .args([
            "key",
            "revoke",
            "pith-example-2027-11",
            "--at",
            "2026-11-30T00:00:00Z",
            "--reason",
            "superseded",
            "--passphrase-file",
            PASS,
            "--keyring",
        ])
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .assert()
        .success()
        .stderr(predicates::str::contains("logged 2 key statement(s)"));
    // the transition already in the keyring and the new revocation, once each
    assert_eq!(q(&db, "SELECT COUNT(*) FROM key_statements"), 2);
    assert_eq!(q(&db, "SELECT COUNT(*) FROM log_leaves"), 202);
    let last: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT entry FROM log_leaves WHERE idx = 201", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        last.contains("\"statement_type\":\"pith_key_revocation\""),
        "{last}"
    );
    // a checkpoint with the same keyring adds nothing more
    checkpoint(
        &db,
        &tmp.path().join("cp"),
        &["--keyring", ring.to_str().unwrap()],
    )
    .success()
    .stderr(predicates::str::contains("(202 leaves)"));
}
