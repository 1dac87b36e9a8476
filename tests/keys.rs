//! Key custody: generate, secrets never shown or dumped, files, age interop, a secret
//! that disagrees with its document. Ceremonies are in `ceremonies`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use pith::format::canon::{self, Value};
use pith::format::digest::sha256;
use pith::format::time::Timestamp;
use pith::trust::secret::{SigningKey, Unlock};
use pith::verify::keyring::Keyring;

use crate::util::{keyring_dir, pith};

const PASS: &str = "test passphrase, not secret";

pub(crate) struct Dir {
    pub(crate) tmp: tempfile::TempDir,
    pass: PathBuf,
}

impl Dir {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let pass = tmp.path().join("pass.txt");
        std::fs::write(&pass, format!("{PASS}\n")).unwrap();
        Dir { tmp, pass }
    }
    pub(crate) fn keys(&self) -> PathBuf {
        self.tmp.path().join("keys")
    }
    pub(crate) fn p(&self) -> &str {
        self.pass.to_str().unwrap()
    }
    pub(crate) fn generate(&self, id: &str) -> assert_cmd::assert::Assert {
        self.generate_cmd(id).assert()
    }
    pub(crate) fn generate_cmd(&self, id: &str) -> assert_cmd::Command {
        let mut c = pith();
        c.args([
            "key",
            "generate",
            "--key-id",
            id,
            "--out-dir",
            self.keys().to_str().unwrap(),
            "--passphrase-file",
            self.p(),
            "--scrypt-log-n",
            "10",
        ])
        .env_remove("PITH_PASSPHRASE");
        c
    }
}

/// The seed inside a passphrase-encrypted key file, read with the age crate directly.
fn seed_of(file: &Path, pass: &str) -> [u8; 32] {
    let sealed = std::fs::read(file).unwrap();
    let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(pass.to_owned()));
    let plain = age::decrypt(&id, &sealed).unwrap();
    seed_from_plaintext(&plain)
}

fn seed_from_plaintext(plain: &[u8]) -> [u8; 32] {
    let text = std::str::from_utf8(plain).unwrap();
    assert!(text.starts_with("pith-secret-key-v1\n"), "{text:?}");
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("seed_hex: "))
        .unwrap();
    crate::util::unhex(hex).try_into().unwrap()
}

/// The outputs never contain the seed: hex (either case), base64, raw bytes, or the
/// 64-byte dalek keypair encoding.
fn assert_no_secret(out: &[u8], seed: &[u8; 32], what: &str) {
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let text = String::from_utf8_lossy(out);
    assert!(
        !text.to_lowercase().contains(&hex),
        "{what}: seed hex in output"
    );
    for eng in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        let b = eng.encode(seed);
        assert!(!text.contains(&b[..40]), "{what}: seed base64 in output");
    }
    assert!(
        !out.windows(32).any(|w| w == seed),
        "{what}: raw seed bytes in output"
    );
    // a Debug print of bytes
    let dbg = format!("{:?}", &seed[..8]);
    assert!(
        !text.contains(&dbg[1..dbg.len() - 1]),
        "{what}: seed bytes as a list in output"
    );
}

#[test]
fn generate_writes_0600_secret_never_shows_it_and_refuses_a_second_time() {
    let d = Dir::new();
    let mut outs = Vec::new();
    let a = d.generate("k1").success();
    outs.push(("generate", a.get_output().clone()));
    let keys = d.keys();
    let secret = keys.join("k1.key.age");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let seed = seed_of(&secret, PASS);
    let before_secret = std::fs::read(&secret).unwrap();
    let before_pub = std::fs::read(keys.join("k1.pub.json")).unwrap();
    // a second generate with the same id refuses, leaving the first intact
    let a = d
        .generate("k1")
        .code(1)
        .stderr(predicates::str::contains("refusing to overwrite"));
    outs.push(("second generate", a.get_output().clone()));
    assert_eq!(std::fs::read(&secret).unwrap(), before_secret);
    assert_eq!(std::fs::read(keys.join("k1.pub.json")).unwrap(), before_pub);
    // the public document matches the secret
    let sk = SigningKey::from_seed("k1", Timestamp::now(), &seed);
    let doc = canon::parse(&before_pub).unwrap();
    assert_eq!(
        doc.get("public_key_b64").and_then(Value::as_str),
        Some(sk.public().b64().as_str())
    );
    // json output, list, verify, wrong passphrase, empty passphrase, env passphrase
    let k = keys.to_str().unwrap();
    let a = pith()
        .args(["key", "list", "--keyring", k, "--json"])
        .assert()
        .success();
    outs.push(("list", a.get_output().clone()));
    let wrong = d.tmp.path().join("wrong.txt");
    std::fs::write(&wrong, "wrong\n").unwrap();
    let a = pith()
        .args([
            "key",
            "rotate",
            "--keyring",
            k,
            "--from",
            "k1",
            "--to",
            "k2",
            "--passphrase-file",
            wrong.to_str().unwrap(),
            "--new-passphrase-file",
            d.p(),
            "--scrypt-log-n",
            "10",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "k1.key.age: cannot decrypt: wrong passphrase",
        ));
    outs.push(("wrong passphrase", a.get_output().clone()));
    assert!(
        !keys.join("k2.pub.json").exists(),
        "a failed rotation wrote something"
    );
    let empty = d.tmp.path().join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let a = pith()
        .args([
            "key",
            "generate",
            "--key-id",
            "k3",
            "--out-dir",
            k,
            "--passphrase-file",
            empty.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("empty passphrase"));
    outs.push(("empty passphrase", a.get_output().clone()));
    assert!(!keys.join("k3.key.age").exists());
    let a = pith()
        .args([
            "key",
            "rotate",
            "--keyring",
            k,
            "--from",
            "k1",
            "--to",
            "k2",
            "--new-passphrase-file",
            d.p(),
            "--scrypt-log-n",
            "10",
            "--json",
        ])
        .env("PITH_PASSPHRASE", PASS)
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "warning: using the passphrase in $PITH_PASSPHRASE",
        ));
    outs.push(("rotate", a.get_output().clone()));
    let a = pith()
        .args([
            "key",
            "revoke",
            "--keyring",
            k,
            "k2",
            "--at",
            "2099-01-01T00:00:00Z",
            "--reason",
            "compromised",
            "--signer",
            "k1",
            "--passphrase-file",
            d.p(),
        ])
        .assert()
        .code(1);
    outs.push(("revoke by a rotated key", a.get_output().clone()));
    let a = pith()
        .args(["verify", &format!("{k}/ceremony.jsonl"), "--keyring", k])
        .assert()
        .success();
    outs.push(("verify", a.get_output().clone()));
    for (what, o) in &outs {
        assert_no_secret(&o.stdout, &seed, what);
        assert_no_secret(&o.stderr, &seed, what);
    }
    // Debug of a signing key shows no secret either
    assert_no_secret(
        format!("{sk:?} {:?}", Unlock::Passphrase(PASS.to_owned().into())).as_bytes(),
        &seed,
        "Debug",
    );
    assert!(!format!("{:?}", Unlock::Passphrase(PASS.to_owned().into())).contains(PASS));
}

#[test]
fn age_interop_recipient_key_decrypts_with_stock_age_and_signs() {
    let out = std::process::Command::new("age-keygen").output();
    if !crate::util::available(out.is_ok(), "stock age-keygen", "PITH_REQUIRE_AGE") {
        return;
    }
    let Ok(out) = out else { return };
    let d = Dir::new();
    let identity = d.tmp.path().join("identity.txt");
    std::fs::write(&identity, &out.stdout).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    let k = d.keys();
    pith()
        .args([
            "key",
            "generate",
            "--key-id",
            "k-age",
            "--out-dir",
            k.to_str().unwrap(),
            "--recipient",
            &recipient,
        ])
        .assert()
        .success();
    let plain = std::process::Command::new("age")
        .args([
            "-d",
            "-i",
            identity.to_str().unwrap(),
            k.join("k-age.key.age").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let seed = seed_from_plaintext(&plain.stdout);
    // any Ed25519 implementation can use the seed: sign with dalek, verify with pith
    let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
    use ed25519_dalek::Signer as _;
    let msg = sha256(b"interop");
    let sig = sk.sign(&msg.0).to_bytes();
    let ring = Keyring::load(&k).unwrap();
    let doc = &ring.by_id("k-age").unwrap().doc;
    assert!(doc.key.verify_digest(&msg.0, &sig));
    // and pith opens it with the identity (rotate to a new key)
    pith()
        .args([
            "key",
            "rotate",
            "--keyring",
            k.to_str().unwrap(),
            "--from",
            "k-age",
            "--to",
            "k-next",
            "--identity",
            identity.to_str().unwrap(),
            "--recipient",
            &recipient,
        ])
        .assert()
        .success();
}

#[test]
fn pith_runs_with_core_dumps_disabled() {
    // the binary sets RLIMIT_CORE to 0 and marks itself non-dumpable before reading keys;
    // observe it from /proc while a command waits for a passphrase on stdin-less runs
    #[cfg(target_os = "linux")]
    {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pith"))
            .args(["canon", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
        let core = limits
            .lines()
            .find(|l| l.starts_with("Max core file size"))
            .unwrap()
            .to_owned();
        drop(child.stdin.take());
        let _ = child.wait();
        let fields: Vec<&str> = core.split_whitespace().collect();
        assert_eq!(&fields[4..6], ["0", "0"], "{core}");
    }
}

/// The locked-memory limit of this process in bytes (`None` = unlimited).
#[cfg(target_os = "linux")]
fn memlock_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .unwrap()
        .to_owned();
    line.split_whitespace().nth(3).unwrap().parse().ok()
}

#[test]
fn a_loaded_signing_key_is_locked_in_ram() {
    // the secret's page is mlocked while a key is loaded (it cannot reach swap);
    // observed from /proc while `pith issue -` holds its key and waits for records on stdin
    #[cfg(target_os = "linux")]
    {
        let can_lock = memlock_limit().is_none_or(|n| n >= 4096);
        let key = SigningKey::generate(
            "pith-lock-test",
            Timestamp::parse("2026-11-25T00:00:00Z").unwrap(),
        );
        assert_eq!(key.is_locked(), can_lock);
        drop(key);
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pith"))
            .args([
                "issue",
                "-",
                "--key",
                "keys.example/pith-example-2026-11.key.age",
            ])
            .args(["--passphrase-file", "keys.example/example.passphrase"])
            .args([
                "--default-license",
                "http://arxiv.org/licenses/assumed-1991-2003/",
            ])
            .args(["--keyring", "keys.example", "--quiet", "--out"])
            .arg(dir.path().join("out.jsonl"))
            .arg("--registry")
            .arg(dir.path().join("r.sqlite"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let status = format!("/proc/{}/status", child.id());
        let mut locked_kb = 0;
        for _ in 0..200 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let text = std::fs::read_to_string(&status).unwrap_or_default();
            locked_kb = text
                .lines()
                .find(|l| l.starts_with("VmLck:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            if locked_kb > 0 {
                break;
            }
        }
        // then one record, so the run ends as a normal issue
        let line = std::fs::read_to_string("tests/data/arxiv/snapshot-head200.jsonl").unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, line.lines().next().unwrap().as_bytes()).unwrap();
        drop(stdin);
        let done = child.wait().unwrap();
        assert!(done.success(), "{done}");
        if can_lock {
            assert!(
                locked_kb >= 4,
                "VmLck {locked_kb} kB while the key was loaded"
            );
        } else {
            assert_eq!(locked_kb, 0);
        }
    }
}

#[test]
fn no_command_that_signs_ever_prints_the_seed() {
    let seed = seed_of(
        &keyring_dir().join("pith-example-2026-11.key.age"),
        "pith-example-only",
    );
    let dir = tempfile::tempdir().unwrap();
    let w = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let key = [
        "--key",
        "keys.example/pith-example-2026-11.key.age",
        "--passphrase-file",
        "keys.example/example.passphrase",
    ];
    std::fs::write(w("p.json"), "{\"n\":1}").unwrap();
    let runs: Vec<Vec<String>> = vec![
        vec![
            "issue".into(),
            "tests/data/arxiv/main-job.abs".into(),
            "--registry".into(),
            w("r.sqlite"),
            "--out".into(),
            w("rc.json"),
            "--json".into(),
        ],
        vec![
            "graph".into(),
            "--record".into(),
            "tests/data/arxiv/main-job.abs".into(),
            "--out".into(),
            w("g.json"),
        ],
        vec![
            "event".into(),
            "sign".into(),
            "--type".into(),
            "correction".into(),
            "--subject".into(),
            "pith:2023:FMOYH72BUJMG6MYP73K65CZAP2".into(),
            "--payload".into(),
            w("p.json"),
        ],
        vec![
            "bundle".into(),
            w("rc.json"),
            w("g.json"),
            "--keyring".into(),
            "keys.example".into(),
        ],
        vec![
            "issue".into(),
            "tests/data/arxiv/main-job.abs".into(),
            "--keyring".into(),
            "keys.example".into(),
            "--bundle".into(),
            "--registry".into(),
            w("r2.sqlite"),
        ],
    ];
    for args in runs {
        let o = pith().args(&args).args(key).output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_no_secret(&o.stdout, &seed, &args[0]);
        assert_no_secret(&o.stderr, &seed, &args[0]);
    }
    // a wrong passphrase in every signing command: a clear error, no secret
    std::fs::write(w("wrong"), "nope\n").unwrap();
    let r3 = w("r3.sqlite");
    for args in [
        vec![
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--registry",
            r3.as_str(),
        ],
        vec!["graph", "--record", "tests/data/arxiv/main-job.abs"],
    ] {
        let o = pith()
            .args(&args)
            .args([
                "--key",
                "keys.example/pith-example-2026-11.key.age",
                "--passphrase-file",
                &w("wrong"),
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("cannot decrypt: wrong passphrase"));
        assert_no_secret(&o.stderr, &seed, "wrong passphrase");
    }
}

/// Regression (fuzz `key_decrypt`): an age file demanding scrypt work factor 2^56 made
/// age's own error message panic; pith describes it itself.
#[test]
fn regression_fuzz_key_decrypt_excessive_work_factor() {
    let sealed = std::fs::read(crate::util::data("fuzz/key_decrypt-excessive-work.age")).unwrap();
    let e =
        SigningKey::decrypt(&sealed, &Unlock::Passphrase("fuzz".to_owned().into())).unwrap_err();
    assert!(e.to_string().contains("work factor of 2^56"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("k.key.age");
    std::fs::write(&f, &sealed).unwrap();
    let pass = dir.path().join("p");
    std::fs::write(&pass, "fuzz\n").unwrap();
    pith()
        .args([
            "graph",
            "--record",
            "tests/data/arxiv/main-job.abs",
            "--key",
            f.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--keyring",
            "keys.example",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("work factor of 2^56"));
}

#[test]
fn a_secret_key_file_that_disagrees_with_its_public_document_signs_nothing() {
    let d = tempfile::tempdir().unwrap();
    let keys = d.path().join("keys");
    let pass = d.path().join("pass");
    std::fs::write(&pass, "pp\n").unwrap();
    let seed = d.path().join("seed.hex");
    std::fs::write(&seed, format!("{}\n", "ab".repeat(32))).unwrap();
    pith()
        .args([
            "key",
            "import",
            "--key-id",
            "k-doc",
            "--seed-file",
            seed.to_str().unwrap(),
            "--out-dir",
            keys.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--scrypt-log-n",
            "10",
            "--valid-from",
            "2020-01-01T00:00:00Z",
        ])
        .assert()
        .success();
    // the same seed under another key id, in a secret file beside the document
    let other = SigningKey::from_seed("k-other", Timestamp::now(), &[0xab; 32]);
    let sealed = other
        .encrypt(&pith::trust::secret::Protection::Passphrase {
            passphrase: "pp".to_owned().into(),
            log_n: Some(10),
        })
        .unwrap();
    let f = keys.join("k-other.key.age");
    std::fs::write(&f, sealed).unwrap();
    let out = pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--key",
            f.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--registry",
            d.path().join("l.sqlite").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "names key id \"k-other\", its public document \"k-doc\"",
        ))
        .get_output()
        .clone();
    assert!(out.stdout.is_empty());
    assert!(
        !d.path().join("l.sqlite").exists() || {
            let c = rusqlite::Connection::open(d.path().join("l.sqlite")).unwrap();
            c.query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))
                .unwrap()
                == 0
        }
    );
}
