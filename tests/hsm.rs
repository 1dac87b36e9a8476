//! Keys in a real PKCS#11 token: SoftHSM2, a fresh token per test in a temp dir
//! (`SOFTHSM2_CONF`), tests serialized (SoftHSM must not be initialised twice at once).
//! `.ci/run` installs Debian's softhsm2 and sets PITH_REQUIRE_SOFTHSM, so CI never passes
//! by skipping.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::util::pith;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
static SERIAL: Mutex<()> = Mutex::new(());

/// A fresh SoftHSM token labelled `pith-test`, user PIN in `pin`.
struct Token {
    dir: tempfile::TempDir,
    conf: PathBuf,
    pin: PathBuf,
}

impl Token {
    fn new() -> Option<Self> {
        let ok = Path::new(MODULE).exists()
            && std::process::Command::new("softhsm2-util")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
        if !crate::util::available(
            ok,
            "SoftHSM2 (softhsm2-util, libsofthsm2.so)",
            "PITH_REQUIRE_SOFTHSM",
        ) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let out = std::process::Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                "pith-test",
                "--so-pin",
                "87654321",
                "--pin",
                "123456",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pin = dir.path().join("pin");
        std::fs::write(&pin, "123456\n").unwrap();
        Some(Token { dir, conf, pin })
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `pith` with this token's configuration and module.
    fn pith(&self) -> assert_cmd::Command {
        let mut c = pith();
        c.env("SOFTHSM2_CONF", &self.conf)
            .env("PITH_PKCS11_MODULE", MODULE)
            .env_remove("PITH_PIN");
        c
    }

    /// Generate key `id` in the token; its document goes into `ring`.
    fn generate(&self, id: &str, ring: &Path) {
        self.pith()
            .args(["key", "generate", "--pkcs11", &uri(id), "--pin-file"])
            .arg(&self.pin)
            .arg("--out-dir")
            .arg(ring)
            .assert()
            .success()
            .stdout(predicates::str::contains(format!(
                "generated {id} in token \"pith-test\""
            )));
    }
}

fn uri(id: &str) -> String {
    format!("pkcs11:token=pith-test;object={id}")
}

#[test]
fn a_token_key_is_generated_inside_signs_through_the_one_path_and_never_leaves() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = Token::new() else { return };
    let ring = t.path("ring");
    t.generate("pith-hsm-1", &ring);
    // only the public document and the transcript: no secret file exists anywhere
    let mut files: Vec<String> = std::fs::read_dir(&ring)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["ceremony.jsonl", "pith-hsm-1.pub.json"]);
    t.pith()
        .arg("verify")
        .arg(ring.join("ceremony.jsonl"))
        .arg("--keyring")
        .arg(&ring)
        .assert()
        .success()
        .stdout(predicates::str::contains("verified transcript: 1 entries"));
    // issue and bundle with the token key: verified by pith and by the Python peer
    let db = t.path("r.sqlite");
    let ev = t.path("ev.json");
    t.pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
            "--key",
            &uri("pith-hsm-1"),
            "--pin-file",
        ])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg("-o")
        .arg(&ev)
        .assert()
        .success();
    let b = t.path("b.json");
    t.pith()
        .args(["bundle", "--key", &uri("pith-hsm-1"), "--pin-file"])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg(&ev)
        .arg("-o")
        .arg(&b)
        .assert()
        .success();
    t.pith()
        .arg("verify")
        .arg(&b)
        .arg("--keyring")
        .arg(&ring)
        .assert()
        .success()
        .stdout(predicates::str::contains("verified bundle"));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ring.join("pith-hsm-1.pub.json")).unwrap()).unwrap();
    if let Some(pithref) = crate::util::pithref() {
        crate::util::pithref_ok(
            &pithref,
            &[
                "verify".as_ref(),
                b.as_os_str(),
                "--pubkey-b64".as_ref(),
                doc["public_key_b64"].as_str().unwrap().as_ref(),
            ],
        );
    }
    // the private key object, as the token reports it: sensitive, never extractable
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    // SAFETY of the environment: the tests in this file hold SERIAL
    unsafe { std::env::set_var("SOFTHSM2_CONF", &t.conf) };
    let ctx = cryptoki::context::Pkcs11::new(MODULE).unwrap();
    ctx.initialize(cryptoki::context::CInitializeArgs::new(
        cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
    ))
    .unwrap();
    let slot = ctx.get_slots_with_token().unwrap()[0];
    let s = ctx.open_ro_session(slot).unwrap();
    s.login(
        cryptoki::session::UserType::User,
        Some(&"123456".to_owned().into()),
    )
    .unwrap();
    let keys = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"pith-hsm-1".to_vec()),
        ])
        .unwrap();
    assert_eq!(keys.len(), 1);
    let attrs = s
        .get_attributes(
            keys[0],
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
            ],
        )
        .unwrap();
    assert!(attrs.contains(&Attribute::Sensitive(true)), "{attrs:?}");
    assert!(attrs.contains(&Attribute::Extractable(false)), "{attrs:?}");
    assert!(
        attrs.contains(&Attribute::NeverExtractable(true)),
        "{attrs:?}"
    );
    // and its value cannot be read
    let value = s.get_attributes(keys[0], &[AttributeType::Value]).unwrap();
    assert!(
        !value.iter().any(|a| matches!(a, Attribute::Value(_))),
        "{value:?}"
    );
    drop(s);
    let _ = ctx.finalize();
    unsafe { std::env::remove_var("SOFTHSM2_CONF") };
}

#[test]
fn a_wrong_pin_or_a_missing_token_or_key_changes_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = Token::new() else { return };
    let ring = t.path("ring");
    t.generate("pith-hsm-1", &ring);
    let bad = t.path("bad-pin");
    std::fs::write(&bad, "000000\n").unwrap();
    let db = t.path("r.sqlite");
    let ev = t.path("ev.json");
    let issue = |key: &str, pin: &Path| {
        let mut c = t.pith();
        c.args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
            "--key",
            key,
            "--pin-file",
        ])
        .arg(pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg("-o")
        .arg(&ev);
        c.assert()
    };
    issue(&uri("pith-hsm-1"), &bad)
        .code(2)
        .stderr(predicates::str::contains(
            "token \"pith-test\": the PIN is incorrect",
        ));
    issue("pkcs11:token=no-such-token;object=pith-hsm-1", &t.pin)
        .code(2)
        .stderr(predicates::str::contains(
            "token \"no-such-token\": no such token in the module",
        ));
    issue(&uri("pith-hsm-2"), &t.pin)
        .code(2)
        .stderr(predicates::str::contains(
            "0 Ed25519 public key objects match the URI",
        ));
    issue(
        "pkcs11:token=pith-test;object=pith-hsm-1?pin-value=123456",
        &t.pin,
    )
    .code(2)
    .stderr(predicates::str::contains("pin-value is refused"));
    assert!(
        !db.exists() && !ev.exists(),
        "nothing signed, nothing stored"
    );
    // a second key of the same label is refused; the first stays
    t.pith()
        .args([
            "key",
            "generate",
            "--pkcs11",
            &uri("pith-hsm-1"),
            "--pin-file",
        ])
        .arg(&t.pin)
        .arg("--out-dir")
        .arg(t.path("ring2"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "a key labelled \"pith-hsm-1\" is already in the token",
        ));
    // a token key without its document in --keyring is refused before it signs
    t.pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
            "--key",
            &uri("pith-hsm-1"),
            "--pin-file",
        ])
        .arg(&t.pin)
        .args(["--keyring", "keys.example", "--registry"])
        .arg(&db)
        .arg("-o")
        .arg(&ev)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("is not in the keyring"));
    assert!(!ev.exists());
}

#[test]
fn ceremonies_across_custody_software_to_token_to_token_and_a_token_signed_revocation() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = Token::new() else { return };
    let ring = t.path("ring");
    let sp = t.path("soft.pass");
    std::fs::write(&sp, "software key passphrase\n").unwrap();
    t.pith()
        .args([
            "key",
            "generate",
            "--key-id",
            "soft-1",
            "--scrypt-log-n",
            "10",
            "-q",
            "--passphrase-file",
        ])
        .arg(&sp)
        .arg("--out-dir")
        .arg(&ring)
        .assert()
        .success();
    t.generate("hsm-1", &ring);
    t.generate("hsm-2", &ring);
    let rotate = |from: &str, from_key: Option<String>, to: &str| {
        let mut c = t.pith();
        c.args([
            "key",
            "rotate",
            "--from",
            from,
            "--to",
            to,
            "--to-key",
            &uri(to),
            "--pin-file",
        ])
        .arg(&t.pin)
        .arg("--passphrase-file")
        .arg(&sp)
        .arg("--keyring")
        .arg(&ring);
        if let Some(k) = from_key {
            c.args(["--from-key", &k]);
        }
        c.assert()
            .success()
            .stdout(predicates::str::contains(format!("rotated {from} -> {to}")));
    };
    // software -> token, then token -> token (two keys of one token in one process)
    rotate("soft-1", None, "hsm-1");
    rotate("hsm-1", Some(uri("hsm-1")), "hsm-2");
    // a revocation signed by the token key
    t.pith()
        .args([
            "key",
            "revoke",
            "soft-1",
            "--at",
            "2026-01-01T00:00:00Z",
            "--reason",
            "compromised",
            "--signer",
            "hsm-2",
            "--signer-key",
            &uri("hsm-2"),
            "--pin-file",
        ])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .assert()
        .success()
        .stdout(predicates::str::contains("signed by hsm-2"));
    // the transcript verifies whole, each entry signed by its acting key, token or not
    t.pith()
        .arg("verify")
        .arg(ring.join("ceremony.jsonl"))
        .arg("--keyring")
        .arg(&ring)
        .assert()
        .success()
        .stdout(predicates::str::contains("verified transcript: 6 entries"));
    // key list says where each secret lives
    let out = t
        .pith()
        .args(["key", "list", "--json", "--keyring"])
        .arg(&ring)
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let at = |id: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key_id"] == id)
            .map(|r| r["location"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        (at("soft-1"), at("hsm-1"), at("hsm-2")),
        (
            "file".into(),
            "token pith-test".into(),
            "token pith-test".into()
        )
    );
    // the new token key signs a checkpoint of a log: the key-validity policy holds for it
    let db = t.path("r.sqlite");
    t.pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
            "-q",
            "--key",
            &uri("hsm-2"),
            "--pin-file",
        ])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg("-o")
        .arg(t.path("ev.json"))
        .assert()
        .success();
    t.pith()
        .args(["log", "checkpoint", "--key", &uri("hsm-2"), "--pin-file"])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg("-o")
        .arg(t.path("cp"))
        .assert()
        .success();
    // and the rotated-out token key may no longer sign
    t.pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
            "--key",
            &uri("hsm-1"),
            "--pin-file",
        ])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg("-o")
        .arg(t.path("ev2.json"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("rotated out"));
}

#[test]
fn an_offline_signer_signs_a_request_with_a_token_key() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = Token::new() else { return };
    let ring = t.path("ring");
    t.generate("hsm-1", &ring);
    let db = t.path("r.sqlite");
    let req = t.path("req.json");
    t.pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
            "--signer",
            "hsm-1",
            "--request",
        ])
        .arg(&req)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .assert()
        .success();
    let resp = t.path("resp.json");
    t.pith()
        .arg("sign")
        .arg(&req)
        .args(["--key", &uri("hsm-1"), "--yes", "--pin-file"])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("-o")
        .arg(&resp)
        .assert()
        .success();
    // the audit log is kept in the keyring, signed by the token key
    assert!(ring.join("signer-audit.jsonl").exists());
    let signed = t.path("signed.json");
    t.pith()
        .arg("apply")
        .arg(&req)
        .arg(&resp)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg("-o")
        .arg(&signed)
        .assert()
        .success();
    t.pith()
        .arg("verify")
        .arg(&signed)
        .arg(ring.join("signer-audit.jsonl"))
        .arg("--keyring")
        .arg(&ring)
        .assert()
        .success();
}

/// The public key of a token key's document in `ring`, base64.
fn public_b64(ring: &Path, id: &str) -> String {
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ring.join(format!("{id}.pub.json"))).unwrap())
            .unwrap();
    doc["public_key_b64"].as_str().unwrap().to_owned()
}

#[test]
fn graph_event_sign_and_resign_bundle_checkpoint_and_witness_cosign_take_a_token_key() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = Token::new() else { return };
    let ring = t.path("ring");
    t.generate("hsm-1", &ring);
    // the witness's key: a second key of the same token, in a keyring of its own
    let wring = t.path("wring");
    t.generate("hsm-w", &wring);
    let db = t.path("r.sqlite");
    // every signing command below: --key URI --pin-file PIN --keyring RING --registry DB
    let signed = |args: &[&str], out: &Path| {
        t.pith()
            .args(args)
            .args(["--key", &uri("hsm-1"), "--pin-file"])
            .arg(&t.pin)
            .arg("--keyring")
            .arg(&ring)
            .arg("--registry")
            .arg(&db)
            .arg("-o")
            .arg(out)
            .assert()
            .success();
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(out).unwrap()).unwrap()
    };
    let verified = |file: &Path, what: &str| {
        t.pith()
            .arg("verify")
            .arg(file)
            .arg("--keyring")
            .arg(&ring)
            .assert()
            .success()
            .stdout(predicates::str::contains(format!("verified {what}")));
    };
    let rc = t.path("rc.json");
    let ev = signed(
        &[
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
        ],
        &rc,
    );
    let subject = ev["subject_pith_number"].as_str().unwrap().to_owned();
    // graph
    let g = t.path("graph.json");
    let graph = signed(
        &[
            "graph",
            "--record",
            "tests/data/arxiv/main-job.abs",
            "--default-license",
            "http://example.org/l",
        ],
        &g,
    );
    assert_eq!(graph["event_type"], "graph_snapshot");
    assert_eq!(graph["signer"]["key_id"], "hsm-1");
    verified(&g, "event");
    // event sign, then event resign: a new signature, the event id unchanged
    let payload = t.path("payload.json");
    std::fs::write(&payload, r#"{"mirror":"https://example.org"}"#).unwrap();
    let h = t.path("hint.json");
    let hint = signed(
        &[
            "event",
            "sign",
            "--type",
            "mirror_hint",
            "--subject",
            &subject,
            "--payload",
            payload.to_str().unwrap(),
        ],
        &h,
    );
    verified(&h, "event");
    std::thread::sleep(std::time::Duration::from_millis(2));
    let h2 = t.path("hint2.json");
    let again = signed(&["event", "resign", h.to_str().unwrap()], &h2);
    assert_eq!(again["event_id"], hint["event_id"]);
    assert_ne!(again["signature"], hint["signature"]);
    verified(&h2, "event");
    // a bundle of the three, signed by the token key
    let b = t.path("b.json");
    signed(
        &[
            "bundle",
            rc.to_str().unwrap(),
            g.to_str().unwrap(),
            h2.to_str().unwrap(),
        ],
        &b,
    );
    verified(&b, "bundle");
    // the Python peer checks every token signature in it: three events and the bundle's
    if let Some(pithref) = crate::util::pithref() {
        crate::util::pithref_ok(
            &pithref,
            &[
                "verify".as_ref(),
                b.as_os_str(),
                "--pubkey-b64".as_ref(),
                public_b64(&ring, "hsm-1").as_ref(),
            ],
        );
    }
    // a checkpoint of the log signed by the token key, and the bundle's events in it
    let cp = t.path("checkpoint");
    t.pith()
        .args(["log", "checkpoint", "--key", &uri("hsm-1"), "--pin-file"])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&ring)
        .arg("--registry")
        .arg(&db)
        .arg("-o")
        .arg(&cp)
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "signed checkpoint of pith.science/log",
        ));
    let proof = t.path("proof.json");
    t.pith()
        .args(["log", "prove", &subject, "--registry"])
        .arg(&db)
        .arg("-o")
        .arg(&proof)
        .assert()
        .success();
    let in_log = |checkpoint: &Path, extra: &[&std::ffi::OsStr]| {
        t.pith()
            .arg("verify")
            .arg(&b)
            .arg("--keyring")
            .arg(&ring)
            .arg("--checkpoint")
            .arg(checkpoint)
            .arg("--proof")
            .arg(&proof)
            .args(extra)
            .assert()
    };
    in_log(&cp, &[]).success();
    // a witness cosigns it with its token key; verify requires that cosignature
    let cosigned = t.path("cosigned");
    t.pith()
        .args(["witness", "cosign"])
        .arg(&cp)
        .args(["--key", &uri("hsm-w"), "--pin-file"])
        .arg(&t.pin)
        .arg("--keyring")
        .arg(&wring)
        .args(["--name", "witness.example/hsm", "--log-keyring"])
        .arg(&ring)
        .arg("--state")
        .arg(t.path("wstate"))
        .arg("-o")
        .arg(&cosigned)
        .assert()
        .success()
        .stderr(predicates::str::contains("as witness witness.example/hsm"));
    let policy = t.path("policy.json");
    std::fs::write(
        &policy,
        serde_json::to_vec(&serde_json::json!({
            "policy_type": "pith_witness_policy_v1",
            "quorum": 1,
            "witnesses": [{"name": "witness.example/hsm", "public_key_b64": public_b64(&wring, "hsm-w")}],
        }))
        .unwrap(),
    )
    .unwrap();
    let with_policy = [std::ffi::OsStr::new("--witness-policy"), policy.as_os_str()];
    in_log(&cosigned, &with_policy)
        .success()
        .stderr(predicates::str::contains("cosigned by witness.example/hsm"));
    // the log's checkpoint alone does not meet the policy
    in_log(&cp, &with_policy).code(1);
}

#[test]
fn bulk_issue_signs_with_a_token_key_on_one_and_two_threads_alike() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = Token::new() else { return };
    let ring = t.path("ring");
    t.generate("hsm-1", &ring);
    let run = |threads: &str| {
        let out = t.path(&format!("bundles-{threads}.jsonl"));
        t.pith()
            .args([
                "issue",
                "tests/data/arxiv/snapshot-head200.jsonl",
                "--default-license",
                "http://example.org/l",
                "--bundle",
                "--threads",
                threads,
                "--at",
                "2030-01-01T10:00:00Z",
                "--quiet",
                "--key",
                &uri("hsm-1"),
                "--pin-file",
            ])
            .arg(&t.pin)
            .arg("--keyring")
            .arg(&ring)
            .arg("--registry")
            .arg(t.path(&format!("r{threads}.sqlite")))
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        out
    };
    let one = run("1");
    let two = run("2");
    let bytes = std::fs::read(&two).unwrap();
    assert_eq!(bytes.iter().filter(|&&c| c == b'\n').count(), 200);
    // Ed25519 is deterministic: the token's signatures do not depend on the session
    assert_eq!(
        std::fs::read(&one).unwrap(),
        bytes,
        "output depends on threads"
    );
    t.pith()
        .arg("verify")
        .arg(&two)
        .arg("--keyring")
        .arg(&ring)
        .assert()
        .success();
    if let Some(pithref) = crate::util::pithref() {
        let out = crate::util::pithref_ok(
            &pithref,
            &[
                "verify-bulk".as_ref(),
                two.as_os_str(),
                "--pubkey-b64".as_ref(),
                public_b64(&ring, "hsm-1").as_ref(),
            ],
        );
        assert!(out.contains("verified 200, failed 0"), "{out}");
    }
}

const PIN_WARNING: &str = "warning: using the PIN in $PITH_PIN; the environment can leak to other processes (prefer a prompt or --pin-file)";

#[test]
fn the_pin_comes_from_pin_file_then_pith_pin_with_a_warning_and_never_from_no_terminal() {
    use predicates::boolean::PredicateBooleanExt as _;
    use std::os::unix::process::CommandExt as _;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = Token::new() else { return };
    let ring = t.path("ring");
    t.generate("hsm-1", &ring);
    // `issue` with the token key, PIN from nowhere yet, its outputs numbered `n`
    let issue = |n: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pith"));
        c.current_dir(crate::util::root())
            .env("SOFTHSM2_CONF", &t.conf)
            .env("PITH_PKCS11_MODULE", MODULE)
            .env_remove("PITH_PIN")
            .stdin(std::process::Stdio::null())
            .args([
                "issue",
                "tests/data/arxiv/main-job.abs",
                "--default-license",
                "http://example.org/l",
                "--key",
                &uri("hsm-1"),
            ])
            .arg("--keyring")
            .arg(&ring)
            .arg("--registry")
            .arg(t.path(&format!("r{n}.sqlite")))
            .arg("-o")
            .arg(t.path(&format!("ev{n}.json")));
        c
    };
    // $PITH_PIN alone: it signs, and says the environment is a poor place for a PIN
    let mut c = issue("1");
    c.env("PITH_PIN", "123456");
    assert_cmd::Command::from_std(c)
        .assert()
        .success()
        .stderr(predicates::str::contains(PIN_WARNING));
    assert!(t.path("ev1.json").exists());
    // --pin-file wins over $PITH_PIN (a wrong one here): signed, no warning
    let mut c = issue("2");
    c.env("PITH_PIN", "000000").arg("--pin-file").arg(&t.pin);
    assert_cmd::Command::from_std(c)
        .assert()
        .success()
        .stderr(predicates::str::contains("PITH_PIN").not());
    assert!(t.path("ev2.json").exists());
    // neither, and no terminal to ask on (a new session has no controlling terminal):
    // a usage error naming --pin-file, nothing signed or stored
    let mut c = issue("3");
    // SAFETY: setsid is async-signal-safe and touches no memory of this process
    unsafe {
        c.pre_exec(|| {
            rustix::process::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    assert_cmd::Command::from_std(c)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "no PIN for token \"pith-test\": no terminal to ask on",
        ))
        .stderr(predicates::str::contains(
            "use --pin-file FILE or $PITH_PIN",
        ));
    assert!(!t.path("ev3.json").exists() && !t.path("r3.sqlite").exists());
}

/// A real module whose token offers no Ed25519 (p11-kit's trust module, "System Trust"):
/// refused after reading the token's mechanism list, naming the token; nothing is made.
#[test]
fn a_token_without_eddsa_is_refused_by_name() {
    const TRUST: &str = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so";
    if !crate::util::available(
        Path::new(TRUST).exists(),
        "p11-kit's trust module (p11-kit-modules)",
        "PITH_REQUIRE_SOFTHSM",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pin = tmp.path().join("pin");
    std::fs::write(&pin, "1234\n").unwrap();
    let db = tmp.path().join("l.sqlite");
    pith()
        .args(["issue", "tests/data/arxiv/main-job.abs"])
        .args([
            "--key",
            "pkcs11:token=System%20Trust;object=pith-v1-2026-12",
        ])
        .args([
            "--pkcs11-module",
            TRUST,
            "--keyring",
            "keys.example",
            "--pin-file",
        ])
        .arg(&pin)
        .arg("--registry")
        .arg(&db)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains(
            "token \"System Trust\": the token does not offer Ed25519 (CKM_EDDSA",
        ));
    assert!(!db.exists(), "nothing written");
    let ring = tmp.path().join("ring");
    pith()
        .args([
            "key",
            "generate",
            "--pkcs11",
            "pkcs11:token=System%20Trust;object=k",
        ])
        .args(["--pkcs11-module", TRUST, "--pin-file"])
        .arg(&pin)
        .arg("--out-dir")
        .arg(&ring)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does not offer Ed25519"));
    assert!(!ring.exists(), "nothing written");
}
