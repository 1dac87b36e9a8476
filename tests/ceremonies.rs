//! Key ceremonies, one scenario per test, each run through the CLI (or, for the window
//! boundaries, the one signature check) with its exit codes and messages pinned:
//!
//! | scenario | test |
//! | --- | --- |
//! | rotate to a new key; at, just before, just after the boundary | `rotation_window_before_at_after_the_boundary`, `a_compromise_backdated_before_a_rotation_is_revoked_by_the_successor` |
//! | rotate to an existing key: its earlier signatures still verify | `rotating_to_a_key_that_already_signed_keeps_its_signatures_valid` |
//! | chain A→B→C, re-signed by B and by C; an unrelated key's re-signature fails | `succession::resigned_by_the_rotated_to_key_verifies_through_a_chain_of_two` |
//! | revoke (superseded) just before, at and after the boundary | `revocation_window_before_at_after_and_distinct_message` |
//! | compromise backdated before a rotation, signed by the successor | `a_compromise_backdated_before_a_rotation_is_revoked_by_the_successor` |
//! | compromise as one command, and what it invalidates | `key_compromise_rotates_revokes_backdated_and_lists_what_no_longer_verifies` |
//! | compromise against a ledger: the signatures it invalidates; a retry signs nothing | `key_compromise_lists_the_ledgers_signatures_it_invalidates` |
//! | compromise of the only key (self-signed, said truthfully) | `self_revocation_of_the_only_key_warns` |
//! | revocation of a key that signed a statement after its compromise time | `compromise_backdated_before_a_revocation_the_key_signed_keeps_that_revocation` |
//! | import of a duplicate seed | `import_refuses_a_key_already_held_under_another_id_and_offers_no_force` |
//! | generate `--force` over an id: the old key retired, its entries still verify | `generate_force_retires_the_replaced_key_and_its_transcript_still_verifies` |
//! | transcript: first, middle, last line dropped; reordered; not the paper log's | `a_transcript_cut_short_or_not_the_paper_logs_fails` |
//! | a line from another transcript | `a_line_from_another_transcript_is_refused` |
//! | tampered statement or transcript | `tampered_statement_and_transcript_are_rejected` |
//! | signing with a revoked key, with and without `--keyring` | `a_revoked_key_signs_nothing_with_or_without_keyring` |
//! | kill -9 during rotate and compromise | `crash::crash_trials_short` (and `_long`, ignored) |

use std::path::{Path, PathBuf};

use pith::format::canon::{self, Value};
use pith::format::digest::sha256;
use pith::format::time::Timestamp;
use pith::trust::secret::{SigningKey, Unlock};
use pith::verify::check::Checker;
use pith::verify::keyring::Keyring;

use crate::keys::Dir;
use crate::util::{keyring_dir, pith};
fn sig_at(key: &SigningKey, ring: &Keyring, t: &str) -> Vec<pith::verify::check::Finding> {
    let digest = sha256(t.as_bytes());
    let ts = Timestamp::parse(t).unwrap();
    let raw = pith::trust::signer::Signer::sign(
        key,
        &pith::trust::signer::Domain::Event.message(&digest),
    )
    .unwrap();
    let sig = pith::format::canon::object([
        ("algorithm", "ed25519".into()),
        ("key_id", key.key_id().into()),
        ("public_key_fingerprint", key.public().fingerprint().into()),
        ("signature_b64", pith::trust::keys::b64_encode(&raw).into()),
        ("signature_status", "signed_v1".into()),
        ("signed_at", ts.fmt_micros().into()),
        ("signed_message", "open_graph_event_sha256_bytes".into()),
    ]);
    let mut ck = Checker::new(Some(ring));
    ck.signature(
        Some(&sig),
        "$.signature",
        &digest,
        pith::trust::signer::Domain::Event,
        Some((&ts, "$.created_at")),
    );
    ck.failures
}

fn example_key(id: &str) -> SigningKey {
    let sealed = std::fs::read(keyring_dir().join(format!("{id}.key.age"))).unwrap();
    SigningKey::decrypt(
        &sealed,
        &Unlock::Passphrase("pith-example-only".to_owned().into()),
    )
    .unwrap()
}

#[test]
fn rotation_window_before_at_after_the_boundary() {
    // keys.example: pith-example-2026-11 rotates to pith-example-2027-11 at 2027-11-01T00:00:00Z
    let ring = Keyring::load(&keyring_dir()).unwrap();
    let old = example_key("pith-example-2026-11");
    let new = example_key("pith-example-2027-11");
    assert!(sig_at(&old, &ring, "2027-10-31T23:59:59Z").is_empty());
    assert!(sig_at(&old, &ring, "2027-10-31T23:59:59.999999Z").is_empty());
    for t in [
        "2027-11-01T00:00:00Z",
        "2027-11-01T00:00:00.000001Z",
        "2028-01-01T00:00:00Z",
    ] {
        let f = sig_at(&old, &ring, t);
        assert!(
            f.len() == 1 && f[0].code == "key_rotated" && f[0].expected.contains("rotated out"),
            "{t}: {f:?}"
        );
        assert_eq!(f[0].path, "$.created_at");
    }
    let f = sig_at(&new, &ring, "2027-10-31T23:59:59Z");
    assert!(f.len() == 1 && f[0].code == "key_not_yet_valid", "{f:?}");
    assert!(sig_at(&new, &ring, "2027-11-01T00:00:00Z").is_empty());
    assert!(sig_at(&new, &ring, "2030-01-01T00:00:00Z").is_empty());
}

fn copy_example(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(keyring_dir()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn revocation_window_before_at_after_and_distinct_message() {
    let d = Dir::new();
    let k = d.keys();
    copy_example(&k);
    let pass = d.tmp.path().join("ex.txt");
    std::fs::write(&pass, "pith-example-only\n").unwrap();
    let ring = Keyring::load(&k).unwrap();
    // until 2027-11-01 the old example key is active and signs the revocation of the new one
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            k.to_str().unwrap(),
            "pith-example-2027-11",
            "--at",
            "2028-03-01T12:00:00Z",
            "--reason",
            "compromised",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("signed by pith-example-2026-11"));
    let revoked = Keyring::load(&k).unwrap();
    let new = example_key("pith-example-2027-11");
    assert!(
        sig_at(&new, &ring, "2028-03-01T12:00:00Z").is_empty(),
        "without the statement"
    );
    assert!(sig_at(&new, &revoked, "2028-03-01T11:59:59Z").is_empty());
    assert!(sig_at(&new, &revoked, "2028-03-01T11:59:59.999999Z").is_empty());
    for t in ["2028-03-01T12:00:00Z", "2028-03-02T00:00:00Z"] {
        let f = sig_at(&new, &revoked, t);
        assert!(
            f.len() == 1
                && f[0].code == "key_revoked"
                && f[0].expected.contains("was revoked (compromised)"),
            "{t}: {f:?}"
        );
    }
    pith()
        .args(["key", "list", "--keyring", k.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "[2027-11-01T00:00:00Z .. 2028-03-01T12:00:00Z)",
        ));
    // revoking twice is refused
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            k.to_str().unwrap(),
            "pith-example-2027-11",
            "--at",
            "2028-03-01T12:00:00Z",
            "--reason",
            "compromised",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("already revoked"));
}

#[test]
fn self_revocation_of_the_only_key_warns() {
    let d = Dir::new();
    d.generate("solo").success();
    let k = d.keys();
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            k.to_str().unwrap(),
            "solo",
            "--at",
            "2026-01-01T00:00:00Z",
            "--reason",
            "compromised",
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "warning: no other key may sign the revocation of solo",
        ));
    pith()
        .args([
            "verify",
            k.join("solo.revocation.json").to_str().unwrap(),
            "--keyring",
            k.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "signed only by the revoked key itself",
        ));
}

#[test]
fn tampered_statement_and_transcript_are_rejected() {
    let d = Dir::new();
    let k = d.keys();
    copy_example(&k);
    let st = k.join("pith-example-2026-11--pith-example-2027-11.transition.json");
    let orig = std::fs::read_to_string(&st).unwrap();
    // moving the rotation later breaks the statement's hash: the keyring refuses to load
    std::fs::write(
        &st,
        orig.replace(
            "\"rotates_at\":\"2027-11-01T00:00:00Z\"",
            "\"rotates_at\":\"2027-12-01T00:00:00Z\"",
        ),
    )
    .unwrap();
    let e = Keyring::load(&k).unwrap_err().to_string();
    assert!(
        e.contains("transition.json") && e.contains("$.statement_sha256"),
        "{e}"
    );
    // verified against the untouched keyring, the tampered statement fails (exit 1)
    pith()
        .args(["verify", st.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("FAIL $.statement_sha256"));
    // a statement signed by one key only
    let mut v = canon::parse(orig.as_bytes()).unwrap();
    if let Some(Value::Array(a)) = v.as_object_mut().unwrap().get_mut("signatures") {
        a.pop();
    }
    std::fs::write(&st, canon::to_canonical(&v)).unwrap();
    pith()
        .args(["verify", st.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("both keys sign a transition"));
    std::fs::write(&st, &orig).unwrap();

    // transcript: a changed line, a dropped line, reordered lines
    let tr = k.join("ceremony.jsonl");
    let text = std::fs::read_to_string(&tr).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() >= 3,
        "the example transcript has generate, generate, rotate"
    );
    let check = |body: String, want: &str| {
        std::fs::write(&tr, body).unwrap();
        pith()
            .args(["verify", tr.to_str().unwrap(), "--keyring", "keys.example"])
            .assert()
            .code(1)
            .stdout(predicates::str::contains(want));
    };
    check(
        text.replacen("\"op\":\"generate\"", "\"op\":\"import\"", 1),
        "entry_sha256",
    );
    let mut reordered = lines.clone();
    reordered.swap(0, 1);
    check(reordered.join("\n") + "\n", "prev_sha256");
    check(lines[1..].join("\n") + "\n", "seq");
    std::fs::write(&tr, &text).unwrap();
    pith()
        .args(["verify", tr.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .success();
}

#[test]
fn rotating_to_a_key_that_already_signed_keeps_its_signatures_valid() {
    let d = Dir::new();
    d.generate("ka").success();
    d.generate("kc").success();
    let k = d.keys();
    let ks = k.to_str().unwrap();
    // C signs an event now
    let payload = d.tmp.path().join("p.json");
    std::fs::write(&payload, b"{\"mirror\":\"https://m.example\"}").unwrap();
    let out = pith()
        .args([
            "event",
            "sign",
            "--type",
            "mirror_hint",
            "--subject",
            "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
            "--payload",
            payload.to_str().unwrap(),
            "--key",
            k.join("kc.key.age").to_str().unwrap(),
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ev = d.tmp.path().join("ev.json");
    std::fs::write(&ev, out).unwrap();
    // A rotates to the existing C, a day from now
    let at = pith::format::time::Timestamp::parse(
        &chrono::Utc::now()
            .checked_add_signed(chrono::Duration::days(1))
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
    .unwrap();
    pith()
        .args([
            "key",
            "rotate",
            "--keyring",
            ks,
            "--from",
            "ka",
            "--to",
            "kc",
            "--at",
            &at.to_string(),
            "--passphrase-file",
            d.p(),
            "--new-passphrase-file",
            d.p(),
        ])
        .assert()
        .success();
    // C's window is its own: its earlier event still verifies; A's now ends at `at`
    pith()
        .args(["verify", ev.to_str().unwrap(), "--keyring", ks])
        .assert()
        .success();
    let ring = pith::verify::keyring::Keyring::load(&k).unwrap();
    assert_eq!(ring.by_id("ka").unwrap().doc.rotates_at, Some(at));
    // transcript entries are dated when each act happened, never going backwards
    let lines = pith::verify::merge::read_events(&std::fs::read(k.join("ceremony.jsonl")).unwrap())
        .unwrap();
    let times: Vec<i64> = lines
        .iter()
        .map(|e| {
            pith::format::time::Timestamp::parse(e.get("at").unwrap().as_str().unwrap())
                .unwrap()
                .micros()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn import_refuses_a_key_already_held_under_another_id_and_offers_no_force() {
    let d = Dir::new();
    let seed = d.tmp.path().join("seed.hex");
    std::fs::write(&seed, format!("{}\n", "cd".repeat(32))).unwrap();
    let import = |id: &str| {
        pith()
            .args([
                "key",
                "import",
                "--key-id",
                id,
                "--seed-file",
                seed.to_str().unwrap(),
                "--out-dir",
                d.keys().to_str().unwrap(),
                "--passphrase-file",
                d.p(),
                "--scrypt-log-n",
                "10",
            ])
            .assert()
    };
    import("k-one").success();
    import("k-two")
        .code(1)
        .stderr(predicates::str::contains("this key is already in"))
        .stderr(predicates::str::contains("as \"k-one\""));
    assert!(!d.keys().join("k-two.pub.json").exists());
    // the keyring still loads
    pith::verify::keyring::Keyring::load(&d.keys()).unwrap();
    // the same id again: refused, and no --force is offered (import has none)
    let out = import("k-one").code(1).get_output().stderr.clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("exists") && !err.contains("--force"), "{err}");
}

#[test]
fn a_transcript_cut_short_or_not_the_paper_logs_fails() {
    let d = Dir::new();
    d.generate("k1").success();
    d.generate("k2").success();
    let k = d.keys();
    let ks = k.to_str().unwrap().to_owned();
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            &ks,
            "k2",
            "--at",
            "2026-01-01T00:00:00Z",
            "--reason",
            "superseded",
            "--signer",
            "k1",
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .success();
    let t = k.join("ceremony.jsonl");
    let text = std::fs::read_to_string(&t).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let head = format!("sha256:{}", crate::util::sha256_hex(lines[2].as_bytes()));
    // whole: verified, with the count and head to write in the paper log
    pith()
        .args(["verify", t.to_str().unwrap(), "--keyring", &ks])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!("3 entries, head {head}")));
    pith()
        .args([
            "verify",
            t.to_str().unwrap(),
            "--keyring",
            &ks,
            "--expect-entries",
            "3",
            "--expect-head",
            &head,
        ])
        .assert()
        .success();
    // the paper log disagrees
    pith()
        .args([
            "verify",
            t.to_str().unwrap(),
            "--keyring",
            &ks,
            "--expect-entries",
            "4",
        ])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("4 entries (the paper log)"));
    // the last line (the revocation) dropped: the revocation in the keyring has no entry
    let cut = d.tmp.path().join("cut.jsonl");
    std::fs::write(&cut, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
    pith()
        .args(["verify", cut.to_str().unwrap(), "--keyring", &ks])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("k2.revocation.json"))
        .stdout(predicates::str::contains("the transcript may be cut short"));
    // the first line dropped: the chain breaks, and k1's generation has no entry
    let headless = d.tmp.path().join("headless.jsonl");
    std::fs::write(&headless, format!("{}\n{}\n", lines[1], lines[2])).unwrap();
    pith()
        .args(["verify", headless.to_str().unwrap(), "--keyring", &ks])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("prev_sha256"));
    // a middle line dropped, or two reordered
    for body in [
        format!("{}\n{}\n", lines[0], lines[2]),
        format!("{}\n{}\n{}\n", lines[1], lines[0], lines[2]),
    ] {
        let f = d.tmp.path().join("edited.jsonl");
        std::fs::write(&f, body).unwrap();
        pith()
            .args(["verify", f.to_str().unwrap(), "--keyring", &ks])
            .assert()
            .code(1);
    }
}

#[test]
fn a_compromise_backdated_before_a_rotation_is_revoked_by_the_successor() {
    let d = Dir::new();
    d.generate("ka").success();
    let k = d.keys();
    let ks = k.to_str().unwrap().to_owned();
    let when = |days: i64| {
        chrono::Utc::now()
            .checked_add_signed(chrono::Duration::days(days))
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    // the ceremony: A rotates to a new B tomorrow
    pith()
        .args([
            "key",
            "rotate",
            "--keyring",
            &ks,
            "--from",
            "ka",
            "--to",
            "kb",
            "--at",
            &when(1),
            "--passphrase-file",
            d.p(),
            "--new-passphrase-file",
            d.p(),
            "--scrypt-log-n",
            "10",
        ])
        .assert()
        .success();
    // then A is found compromised since an hour ago: revoked, backdated, before the
    // rotation; B (not yet valid) signs it by default, as A's successor
    let since = chrono::Utc::now()
        .checked_sub_signed(chrono::Duration::hours(1))
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            &ks,
            "ka",
            "--at",
            &since,
            "--reason",
            "compromised",
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .success()
        .stderr(predicates::prelude::PredicateBooleanExt::not(
            predicates::str::contains("signed by the revoked key"),
        ));
    let st =
        pith::format::canon::parse(&std::fs::read(k.join("ka.revocation.json")).unwrap()).unwrap();
    let signer = st.get("signatures").unwrap().as_array().unwrap()[0]
        .get("key_id")
        .and_then(pith::format::canon::Value::as_str)
        .unwrap()
        .to_owned();
    assert_eq!(signer, "kb");
    // the keyring loads, the transition co-signed by B stays valid, A is revoked
    let ring = pith::verify::keyring::Keyring::load(&k).unwrap();
    assert!(ring.by_id("ka").unwrap().revoked.is_some());
    assert!(ring.succeeds(
        ring.by_id("ka").unwrap().doc.key.fingerprint(),
        ring.by_id("kb").unwrap().doc.key.fingerprint()
    ));
    pith()
        .args([
            "verify",
            k.join("ceremony.jsonl").to_str().unwrap(),
            "--keyring",
            &ks,
        ])
        .assert()
        .success();
    // the only key of a keyring revoking itself says why, truthfully
    let solo = Dir::new();
    solo.generate("kz").success();
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            solo.keys().to_str().unwrap(),
            "kz",
            "--at",
            &since,
            "--reason",
            "compromised",
            "--passphrase-file",
            solo.p(),
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "no other key may sign the revocation of kz",
        ));
}

#[test]
fn generate_force_retires_the_replaced_key_and_its_transcript_still_verifies() {
    let d = Dir::new();
    d.generate("k1").success();
    let k = d.keys();
    let old_pub = std::fs::read(k.join("k1.pub.json")).unwrap();
    let old_secret = std::fs::read(k.join("k1.key.age")).unwrap();
    let mut again = d.generate_cmd("k1");
    again.arg("--force").assert().success();
    assert_ne!(std::fs::read(k.join("k1.pub.json")).unwrap(), old_pub);
    // the old files are kept, byte for byte, under retired/
    let retired: Vec<PathBuf> = std::fs::read_dir(k.join("retired"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let kept = |suffix: &str| {
        retired
            .iter()
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .map(|p| std::fs::read(p).unwrap())
    };
    assert_eq!(kept(".pub.json"), Some(old_pub));
    assert_eq!(kept(".key.age"), Some(old_secret));
    // the keyring loads (the retired key is not trusted), the transcript verifies
    let ring = pith::verify::keyring::Keyring::load(&k).unwrap();
    assert_eq!(ring.len(), 1);
    pith()
        .args([
            "verify",
            k.join("ceremony.jsonl").to_str().unwrap(),
            "--keyring",
            k.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("2 entries"));
}

#[test]
fn key_compromise_rotates_revokes_backdated_and_lists_what_no_longer_verifies() {
    let d = Dir::new();
    d.generate("ka").success();
    let k = d.keys();
    let ks = k.to_str().unwrap().to_owned();
    let payload = d.tmp.path().join("p.json");
    std::fs::write(&payload, b"{\"mirror\":\"https://m.example\"}").unwrap();
    // an event A signed before the leak, and one after
    let sign = |name: &str| {
        let out = pith()
            .args([
                "event",
                "sign",
                "--type",
                "mirror_hint",
                "--subject",
                "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
                "--payload",
                payload.to_str().unwrap(),
                "--key",
                k.join("ka.key.age").to_str().unwrap(),
                "--passphrase-file",
                d.p(),
            ])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let f = d.tmp.path().join(name);
        std::fs::write(&f, out).unwrap();
        f
    };
    let before = sign("before.json");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let after = sign("after.json");
    pith()
        .args([
            "key",
            "compromise",
            "--keyring",
            &ks,
            "ka",
            "--since",
            &since,
            "--to",
            "kb",
            "--passphrase-file",
            d.p(),
            "--new-passphrase-file",
            d.p(),
            "--scrypt-log-n",
            "10",
            "--check",
            before.to_str().unwrap(),
            "--check",
            after.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "still valid: {}",
            before.display()
        )))
        .stdout(predicates::str::contains(format!(
            "now invalid: {}",
            after.display()
        )))
        .stdout(predicates::str::contains(
            "1 of 2 checked artifact(s) no longer verify",
        ));
    let ring = pith::verify::keyring::Keyring::load(&k).unwrap();
    assert!(ring.by_id("ka").unwrap().revoked.is_some());
    assert_eq!(
        ring.by_id("kb")
            .unwrap()
            .window_at(&pith::format::time::Timestamp::now()),
        pith::trust::keys::KeyWindow::Valid
    );
    let st =
        pith::format::canon::parse(&std::fs::read(k.join("ka.revocation.json")).unwrap()).unwrap();
    assert_eq!(
        st.get("signatures").unwrap().as_array().unwrap()[0]
            .get("key_id")
            .and_then(pith::format::canon::Value::as_str),
        Some("kb")
    );
    pith()
        .args([
            "verify",
            k.join("ceremony.jsonl").to_str().unwrap(),
            "--keyring",
            &ks,
        ])
        .assert()
        .success();
}

#[test]
fn a_revoked_key_signs_nothing_with_or_without_keyring() {
    let d = Dir::new();
    d.generate("k1").success();
    d.generate("k2").success();
    let k = d.keys();
    let ks = k.to_str().unwrap().to_owned();
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            &ks,
            "k1",
            "--at",
            "2026-01-01T00:00:00Z",
            "--reason",
            "compromised",
            "--signer",
            "k2",
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .success();
    let payload = d.tmp.path().join("p.json");
    std::fs::write(&payload, b"{\"n\":1}").unwrap();
    let base = [
        "event",
        "sign",
        "--type",
        "mirror_hint",
        "--subject",
        "pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX",
        "--payload",
        payload.to_str().unwrap(),
    ];
    let key = k.join("k1.key.age");
    for with_ring in [false, true] {
        let mut c = pith();
        c.args(base)
            .args(["--key", key.to_str().unwrap(), "--passphrase-file", d.p()]);
        if with_ring {
            c.args(["--keyring", &ks]);
        }
        c.assert()
            .code(1)
            .stdout(predicates::str::is_empty())
            .stderr(predicates::str::contains(
                "was revoked at 2026-01-01T00:00:00Z (compromised)",
            ));
    }
    // and issuing, the same
    pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--key",
            key.to_str().unwrap(),
            "--passphrase-file",
            d.p(),
            "--registry",
            d.tmp.path().join("l.sqlite").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("was revoked at"));
}

#[test]
fn a_line_from_another_transcript_is_refused() {
    let (a, b) = (Dir::new(), Dir::new());
    a.generate("ka1").success();
    a.generate("ka2").success();
    b.generate("kb1").success();
    b.generate("kb2").success();
    let ta = std::fs::read_to_string(a.keys().join("ceremony.jsonl")).unwrap();
    let tb = std::fs::read_to_string(b.keys().join("ceremony.jsonl")).unwrap();
    let (la, lb): (Vec<&str>, Vec<&str>) = (ta.lines().collect(), tb.lines().collect());
    // b's second line (it chains to b's first) in place of a's second
    let f = a.tmp.path().join("spliced.jsonl");
    std::fs::write(&f, format!("{}\n{}\n", la[0], lb[1])).unwrap();
    pith()
        .args([
            "verify",
            f.to_str().unwrap(),
            "--keyring",
            a.keys().to_str().unwrap(),
            "--verbose",
        ])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("line 2.prev_sha256"));
}

#[test]
fn compromise_backdated_before_a_revocation_the_key_signed_keeps_that_revocation() {
    let d = Dir::new();
    for id in ["ka", "kb", "kc"] {
        d.generate(id).success();
    }
    let k = d.keys();
    let ks = k.to_str().unwrap().to_owned();
    let now = || chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let leaked = now();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // A signs C's retirement, after what will turn out to be A's compromise time
    let c_at = now();
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            &ks,
            "kc",
            "--at",
            &c_at,
            "--reason",
            "superseded",
            "--signer",
            "ka",
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("signed by ka"));
    // A is revoked from before it signed that statement; B signs the revocation
    pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            &ks,
            "ka",
            "--at",
            &leaked,
            "--reason",
            "compromised",
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("signed by kb"));
    // the keyring loads; C's revocation stands (a revocation only narrows), A is revoked
    // from its compromise time, B is untouched
    let ring = Keyring::load(&k).unwrap();
    let revoked = |id: &str| {
        ring.by_id(id)
            .and_then(|t| t.revoked.as_ref())
            .map(|(t, r)| (t.to_string(), r.clone()))
    };
    assert_eq!(revoked("kc"), Some((c_at.clone(), "superseded".into())));
    assert_eq!(revoked("ka"), Some((leaked.clone(), "compromised".into())));
    assert_eq!(revoked("kb"), None);
    pith()
        .args(["key", "list", "--keyring", &ks])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "revoked at {leaked} (compromised)"
        )))
        .stdout(predicates::str::contains(format!(
            "revoked at {c_at} (superseded)"
        )));
    // and the ceremony transcript still accounts for every statement
    pith()
        .args([
            "verify",
            k.join("ceremony.jsonl").to_str().unwrap(),
            "--keyring",
            &ks,
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("5 entries"));
}

#[test]
fn key_compromise_lists_the_ledgers_signatures_it_invalidates() {
    let d = Dir::new();
    d.generate("ka").success();
    let k = d.keys();
    let ks = k.to_str().unwrap().to_owned();
    let db = d.tmp.path().join("ledger.sqlite");
    let lines: Vec<String> = std::fs::read_to_string("tests/data/arxiv/snapshot-head200.jsonl")
        .unwrap()
        .lines()
        .take(5)
        .map(str::to_owned)
        .collect();
    let issue = |name: &str, recs: &[String]| {
        let f = d.tmp.path().join(name);
        std::fs::write(&f, recs.join("\n") + "\n").unwrap();
        pith()
            .args([
                "issue",
                f.to_str().unwrap(),
                "--default-license",
                "http://example.org/l",
                "--key",
                k.join("ka.key.age").to_str().unwrap(),
                "--passphrase-file",
                d.p(),
                "--registry",
                db.to_str().unwrap(),
                "--out",
                "/dev/null",
                "--force",
                "--quiet",
            ])
            .assert()
            .success();
    };
    issue("before.jsonl", &lines[..2]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    issue("after.jsonl", &lines[2..]);
    // three papers issued after the leak: a receipt and an event signature each
    let out = pith()
        .args([
            "key",
            "compromise",
            "--keyring",
            &ks,
            "ka",
            "--since",
            &since,
            "--to",
            "kb",
            "--passphrase-file",
            d.p(),
            "--new-passphrase-file",
            d.p(),
            "--scrypt-log-n",
            "10",
            "--registry",
            db.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "6 signature(s) by ka in {} made from {since} on are now invalid (3 paper(s))",
            db.display()
        )))
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.matches("now invalid: pith:").count(), 6, "{out}");
    assert_eq!(
        out.matches("open_graph_event_sha256_bytes").count(),
        3,
        "{out}"
    );
    // a retry signs nothing new and reports the same; a ledger that is not there is a
    // usage error
    let statements = std::fs::read_dir(&k).unwrap().count();
    pith()
        .args([
            "key",
            "compromise",
            "--keyring",
            &ks,
            "ka",
            "--since",
            &since,
            "--passphrase-file",
            d.p(),
            "--registry",
            db.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains(format!(
            "ka is already revoked from {since} (compromised): nothing new to sign"
        )))
        .stdout(predicates::str::contains("6 signature(s) by ka"));
    assert_eq!(std::fs::read_dir(&k).unwrap().count(), statements);
    pith()
        .args([
            "key",
            "compromise",
            "--keyring",
            &ks,
            "ka",
            "--since",
            &since,
            "--passphrase-file",
            d.p(),
            "--registry",
            "/nonexistent/l.sqlite",
        ])
        .assert()
        .code(2);
}
