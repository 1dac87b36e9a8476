//! Crash safety: SIGKILL at random points during key generate, key rotate, issue
//! and publish; afterwards every file is whole, the old key intact, the ledger consistent
//! and the resolver tree never half-written. A handful of trials here; 100 per command in
//! the ignored `crash_trials_long`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pith::format::canon;

use crate::util::root;

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("pith")
}

/// Run `args`, kill it after `delay`, wait.
fn kill_after(args: &[&str], delay: Duration) {
    let mut c = Command::new(bin())
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = c.kill();
    let _ = c.wait();
}

/// A tiny xorshift for delays (no external randomness needed).
struct Rng(u64);
impl Rng {
    fn next(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max.max(1)
    }
}

fn every_file_whole(dir: &Path) {
    for e in walk(dir) {
        let name = e.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".pith-tmp-") {
            continue; // an abandoned temp file never has a final name
        }
        if name.ends_with(".json") {
            let b = std::fs::read(&e).unwrap();
            assert!(canon::parse(&b).is_ok(), "half-written {}", e.display());
        }
        if name.ends_with(".jsonl") {
            let b = std::fs::read(&e).unwrap();
            for (n, l) in b.split(|x| *x == b'\n').enumerate() {
                assert!(
                    l.is_empty() || canon::parse(l).is_ok(),
                    "half-written line {} of {}",
                    n + 1,
                    e.display()
                );
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

fn trials(n: usize, seed: u64) {
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "crash test\n").unwrap();
    let p = pass.to_str().unwrap();
    for t in 0..n {
        // key generate: any key file present is whole and usable
        let d = tmp.path().join(format!("gen{t}"));
        let ds = d.to_str().unwrap();
        kill_after(
            &[
                "key",
                "generate",
                "--key-id",
                "k",
                "--out-dir",
                ds,
                "--passphrase-file",
                p,
                "--scrypt-log-n",
                "10",
            ],
            Duration::from_micros(rng.next(40_000)),
        );
        every_file_whole(&d);
        if d.join("k.key.age").exists() {
            let sealed = std::fs::read(d.join("k.key.age")).unwrap();
            let k = pith::trust::secret::SigningKey::decrypt(
                &sealed,
                &pith::trust::secret::Unlock::Passphrase("crash test".to_owned().into()),
            )
            .expect("a key file that exists decrypts");
            if d.join("k.pub.json").exists() {
                let doc = canon::parse(&std::fs::read(d.join("k.pub.json")).unwrap()).unwrap();
                assert_eq!(
                    doc.get("public_key_b64").and_then(canon::Value::as_str),
                    Some(k.public().b64().as_str())
                );
            }
        }
        // key rotate: the old key is intact and the keyring still loads
        let r = tmp.path().join(format!("rot{t}"));
        let rs = r.to_str().unwrap();
        let st = Command::new(bin())
            .args([
                "key",
                "generate",
                "--key-id",
                "old",
                "--out-dir",
                rs,
                "--passphrase-file",
                p,
                "--scrypt-log-n",
                "10",
            ])
            .output()
            .unwrap();
        assert!(st.status.success());
        let old = std::fs::read(r.join("old.key.age")).unwrap();
        kill_after(
            &[
                "key",
                "rotate",
                "--keyring",
                rs,
                "--from",
                "old",
                "--to",
                "new",
                "--at",
                "2099-01-01T00:00:00Z",
                "--passphrase-file",
                p,
                "--new-passphrase-file",
                p,
                "--scrypt-log-n",
                "10",
            ],
            Duration::from_micros(rng.next(60_000)),
        );
        assert_eq!(
            std::fs::read(r.join("old.key.age")).unwrap(),
            old,
            "old key changed"
        );
        every_file_whole(&r);
        pith::verify::keyring::Keyring::load(&r)
            .expect("the keyring loads after a killed rotation");
        // key compromise (rotate to a new key, then revoke from a past time): no key lost,
        // every file whole, and the keyring loads whatever point the kill hit
        let c = tmp.path().join(format!("comp{t}"));
        let cs = c.to_str().unwrap();
        let st = Command::new(bin())
            .args([
                "key",
                "generate",
                "--key-id",
                "leaked",
                "--out-dir",
                cs,
                "--passphrase-file",
                p,
                "--scrypt-log-n",
                "10",
            ])
            .output()
            .unwrap();
        assert!(st.status.success());
        let leaked = std::fs::read(c.join("leaked.key.age")).unwrap();
        kill_after(
            &[
                "key",
                "compromise",
                "--keyring",
                cs,
                "leaked",
                "--since",
                "2020-01-01T00:00:00Z",
                "--to",
                "fresh",
                "--passphrase-file",
                p,
                "--new-passphrase-file",
                p,
                "--scrypt-log-n",
                "10",
            ],
            Duration::from_micros(rng.next(80_000)),
        );
        assert_eq!(
            std::fs::read(c.join("leaked.key.age")).unwrap(),
            leaked,
            "the compromised key's file changed"
        );
        every_file_whole(&c);
        let ring = pith::verify::keyring::Keyring::load(&c)
            .expect("the keyring loads after a killed compromise");
        assert!(
            ring.by_id("leaked").is_some(),
            "the compromised key was lost"
        );
        if c.join("fresh.key.age").exists() && c.join("fresh.pub.json").exists() {
            assert!(ring.by_id("fresh").is_some());
        }
        // issue into a ledger: consistent, no half entry, no duplicate
        let l = tmp.path().join(format!("ledger{t}.sqlite"));
        kill_after(
            &[
                "issue",
                "tests/data/arxiv/snapshot-head200.jsonl",
                "--default-license",
                "http://example.org/l",
                "--key",
                "keys.example/pith-example-2026-11.key.age",
                "--passphrase-file",
                "keys.example/example.passphrase",
                "--registry",
                l.to_str().unwrap(),
                "--out",
                "/dev/null",
                "--force",
                "--quiet",
            ],
            Duration::from_micros(rng.next(400_000)),
        );
        if l.exists() {
            let db = rusqlite::Connection::open(&l).unwrap();
            let q = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
            let ok: String = db
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap_or_else(|_| "ok".into());
            assert_eq!(ok, "ok");
            if db
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = 'records'",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                == 1
            {
                let n = q("SELECT COUNT(*) FROM records");
                assert_eq!(
                    q("SELECT COUNT(*) FROM receipts"),
                    n,
                    "a record without its receipt, or a duplicate"
                );
                assert_eq!(q("SELECT COUNT(DISTINCT pith_number) FROM receipts"), n);
                assert_eq!(q("SELECT COUNT(*) FROM signatures"), 2 * n);
                // the event store: each record's event, in the same transaction
                assert_eq!(q("SELECT COUNT(*) FROM events"), n);
                assert_eq!(q("SELECT COUNT(*) FROM event_versions"), n);
                assert_eq!(
                    q(
                        "SELECT COUNT(*) FROM receipts r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = r.event_id)"
                    ),
                    0
                );
            }
        }
        // publish: never half-written
        let site = tmp.path().join(format!("site{t}"));
        kill_after(
            &[
                "publish",
                "tests/data/pith-bundle-2605.18404v1.json",
                "--keyring",
                "keys.example",
                "--out",
                site.to_str().unwrap(),
            ],
            Duration::from_micros(rng.next(30_000)),
        );
        every_file_whole(&site);
    }
}

#[test]
fn crash_trials_short() {
    trials(4, 0x9e37_79b9_7f4a_7c15);
}

#[test]
#[ignore = "long: 100 SIGKILL trials per command"]
fn crash_trials_long() {
    trials(100, 0x2545_f491_4f6c_dd1d);
}
