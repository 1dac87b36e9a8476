//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use pith::format::canon::{self, Value};
use pith::verify::keyring::Keyring;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under tests/data.
pub fn data(rel: &str) -> PathBuf {
    root().join("tests/data").join(rel)
}

/// The real bundle's path.
pub fn bundle_path() -> PathBuf {
    data("pith-bundle-2605.18404v1.json")
}

/// The real bundle, parsed.
pub fn bundle() -> Value {
    canon::parse(&std::fs::read(bundle_path()).unwrap()).unwrap()
}

/// keys.example/
pub fn keyring_dir() -> PathBuf {
    root().join("keys.example")
}

/// The shipped keyring (the registry's real key).
pub fn keyring() -> Keyring {
    Keyring::load(&keyring_dir()).unwrap()
}

/// Read a JSON fixture with serde_json (an independent parser).
pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(data(rel)).unwrap()).unwrap()
}

/// Decode hex.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Hex of SHA-256, computed with sha2 directly.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The pith binary.
///
/// Each run gets its own default registry ledger (`PITH_REGISTRY`) in a directory of the
/// test process, so that what the commands store never lands in the source tree; a test
/// that needs one ledger across commands names it with `--registry`.
pub fn pith() -> assert_cmd::Command {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let ledger = dir.path().join(format!(
        "ledger-{}.sqlite",
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let mut c = assert_cmd::Command::cargo_bin("pith").unwrap();
    c.current_dir(root()).env("PITH_REGISTRY", ledger);
    c
}

/// Every path in a value with the node there, depth first, parents before children.
pub fn walk<'a>(v: &'a Value, path: Vec<Step>, out: &mut Vec<(Vec<Step>, &'a Value)>) {
    out.push((path.clone(), v));
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = path.clone();
                p.push(Step::Key(k.clone()));
                walk(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = path.clone();
                p.push(Step::Index(i));
                walk(x, p, out);
            }
        }
        _ => {}
    }
}

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Object member.
    Key(String),
    /// Array element.
    Index(usize),
}

/// `$.a[0].b` for a path.
pub fn show(path: &[Step]) -> String {
    let mut s = String::from("$");
    for st in path {
        match st {
            Step::Key(k) => s = canon::join_key(&s, k),
            Step::Index(i) => s = canon::join_index(&s, *i),
        }
    }
    s
}

/// The node at `path`, mutably.
pub fn at<'a>(v: &'a mut Value, path: &[Step]) -> &'a mut Value {
    let mut cur = v;
    for st in path {
        cur = match (cur, st) {
            (Value::Object(m), Step::Key(k)) => m.get_mut(k).unwrap(),
            (Value::Array(a), Step::Index(i)) => &mut a[*i],
            _ => panic!("bad path"),
        };
    }
    cur
}

/// Admit a key under a document with no window limits (for library tests that sign with
/// a key no keyring holds).
pub fn authorized(key: pith::trust::secret::SigningKey) -> pith::trust::policy::Authorized {
    let doc = pith::trust::keys::KeyDocument::build(key.key_id(), key.public(), None, None, None);
    let doc = pith::trust::keys::KeyDocument::from_value(&doc, "$").unwrap();
    let trusted = pith::trust::keys::TrustedKey {
        doc,
        revoked: None,
        file: PathBuf::from("test"),
    };
    let now = pith::format::time::Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
    pith::trust::policy::Authorized::new(Box::new(key), trusted, &now).unwrap()
}

/// Whether an external cross-check can run. When it cannot, the test is skipped with a
/// line on stderr — unless `var` is set (`.ci/run` sets it after installing the tool), in
/// which case the missing tool fails the test: CI never passes by skipping.
pub fn available(ok: bool, what: &str, var: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os(var).is_none(),
            "{what} is not available, and {var} is set: this cross-check must run"
        );
        eprintln!("SKIPPED: {what} is not available (.ci/run provides it and sets {var})");
    }
    ok
}

/// The Python peer `../shared/bench/pithref.py` with Python's cryptography, when present.
pub fn pithref() -> Option<PathBuf> {
    let p = root().join("../shared/bench/pithref.py");
    let crypto = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    available(
        p.exists() && crypto,
        "the Python peer (../shared/bench/pithref.py and python3-cryptography)",
        "PITH_REQUIRE_PYTHON",
    )
    .then_some(p)
}

/// Run the Python peer with `args`; it must succeed. Returns its standard output.
pub fn pithref_ok(pithref: &Path, args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new("python3")
        .arg(pithref)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "pithref: {stdout}");
    stdout
}
