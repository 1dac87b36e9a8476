//! The transparency log in the ledger: one leaf per stored event version, appended in the
//! same transaction; the tree head and proofs checked by an independent implementation
//! (Cloudflare azul's `tlog_tiles`, a port of Go's `sumdb/tlog`), never by pith's own.

use std::path::Path;

use pith::format::canon::{self, Value};
use pith::registry::ledger::Ledger;
use tlog_tiles::tlog::{self, Hash, HashReader};

use crate::util::pith;

const KEY: &str = "keys.example/pith-example-2026-11.key.age";
const PASS: &str = "keys.example/example.passphrase";

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
    assert_eq!(q(&db, "PRAGMA user_version"), 3);
    assert_eq!(rows(&db), before);
}
