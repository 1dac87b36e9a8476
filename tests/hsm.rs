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
        let out = std::process::Command::new("python3")
            .arg(&pithref)
            .arg("verify")
            .arg(&b)
            .args(["--pubkey-b64", doc["public_key_b64"].as_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pithref: {}",
            String::from_utf8_lossy(&out.stdout)
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
