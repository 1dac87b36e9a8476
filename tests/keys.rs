//! Key custody (issue 3): generate, secrets never shown, files, age interop, rotation and
//! revocation windows, statements and transcripts that do not verify.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use pith::format::canon::{self, Value};
use pith::format::digest::sha256;
use pith::format::time::Timestamp;
use pith::trust::secret::{SigningKey, Unlock};
use pith::verify::check::Checker;
use pith::verify::keyring::Keyring;

use crate::util::{keyring_dir, pith};

const PASS: &str = "test passphrase, not secret";

struct Dir {
    tmp: tempfile::TempDir,
    pass: PathBuf,
}

impl Dir {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let pass = tmp.path().join("pass.txt");
        std::fs::write(&pass, format!("{PASS}\n")).unwrap();
        Dir { tmp, pass }
    }
    fn keys(&self) -> PathBuf {
        self.tmp.path().join("keys")
    }
    fn p(&self) -> &str {
        self.pass.to_str().unwrap()
    }
    fn generate(&self, id: &str) -> assert_cmd::assert::Assert {
        self.generate_cmd(id).assert()
    }
    fn generate_cmd(&self, id: &str) -> assert_cmd::Command {
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
    // issue 8: the secret's page is mlocked while a key is loaded (it cannot reach swap);
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
