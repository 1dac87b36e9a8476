//! CLI behaviour: exit codes, output forms.

use pith::format::canon::{self, Value};

use crate::log::{KEY, PASS};
use crate::util::{bundle, pith};

#[test]
fn tampered_bundle_exits_1_with_one_line_per_failed_check() {
    let mut b = bundle();
    if let Value::Object(m) = &mut b {
        m.insert(
            "built_at".into(),
            Value::String("2026-05-25T06:12:38Z".into()),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.json");
    std::fs::write(&f, canon::to_canonical(&b)).unwrap();
    pith()
        .args(["verify", f.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("FAILED bundle"))
        .stdout(predicates::str::contains(
            "FAIL $.bundle_signature.bundle_sha256: expected",
        ));
}

#[test]
fn verify_json_output_is_one_object_per_file() {
    let out = pith()
        .args([
            "verify",
            "--json",
            "tests/data/pith-bundle-2605.18404v1.json",
            "keys.example/pith-v1-2026-05.pub.json",
            "--keyring",
            "keys.example",
        ])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "bundle");
    assert_eq!(lines[0]["ok"], true);
    // the two re-signature times are notes, not warnings (SECURITY.md)
    assert_eq!(lines[0]["warnings"].as_array().unwrap().len(), 0);
    assert_eq!(lines[0]["notes"].as_array().unwrap().len(), 2);
    assert_eq!(lines[1]["kind"], "key_document");
}

#[test]
fn usage_errors_exit_2() {
    pith()
        .args(["verify", "tests/data/pith-bundle-2605.18404v1.json"])
        .assert()
        .code(2);
    pith().args(["no-such-command"]).assert().code(2);
    pith()
        .args(["verify", "missing.json", "--keyring", "keys.example"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot read missing.json"));
}

#[test]
fn canon_out_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("o.json");
    std::fs::write(&f, "old").unwrap();
    pith()
        .args(["canon", "--out", f.to_str().unwrap(), "-"])
        .write_stdin("{\"b\":1,\"a\":2}")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "old");
    pith()
        .args(["canon", "--force", "--out", f.to_str().unwrap(), "-"])
        .write_stdin("{\"b\":1,\"a\":2}")
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "{\"a\":2,\"b\":1}\n");
}

fn write(dir: &std::path::Path, name: &str, v: &Value) -> String {
    let f = dir.join(name);
    std::fs::write(&f, canon::to_canonical(v)).unwrap();
    f.to_str().unwrap().to_owned()
}

#[test]
fn standalone_receipt_event_and_state_verify() {
    let b = bundle();
    let dir = tempfile::tempdir().unwrap();
    let ev0 = &b.get("events").and_then(Value::as_array).unwrap()[0];
    let receipt = write(
        dir.path(),
        "receipt.json",
        ev0.get("payload").unwrap().get("receipt").unwrap(),
    );
    let record = write(
        dir.path(),
        "record.json",
        b.get("canonical_record").unwrap(),
    );
    let event = write(dir.path(), "event.json", ev0);
    let state = write(dir.path(), "state.json", b.get("state").unwrap());
    pith()
        .args([
            "verify",
            &receipt,
            "--record",
            &record,
            "--keyring",
            "keys.example",
        ])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("verified receipt"));
    pith()
        .args(["verify", &event, &state, "--keyring", "keys.example"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("verified event"))
        .stdout(predicates::str::contains("verified state"));
    // a receipt checked against another record fails on the record's hash
    let mut other = b.get("canonical_record").unwrap().clone();
    if let Some(Value::Object(m)) = other.as_object_mut().and_then(|m| m.get_mut("metadata")) {
        m.insert("primary_cat".into(), "cs.CR".into());
    }
    let other = write(dir.path(), "other.json", &other);
    pith()
        .args([
            "verify",
            &receipt,
            "--record",
            &other,
            "--keyring",
            "keys.example",
        ])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("FAIL $.canonical_sha256"));
}

/// The README's main job (scripts/main-job.sh), step by step, on the shipped example.
#[test]
fn main_job_end_to_end_on_the_shipped_example() {
    let dir = tempfile::tempdir().unwrap();
    let w = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let key = ["--key", KEY, "--passphrase-file", PASS];
    let rec = "tests/data/arxiv/main-job.abs";
    pith()
        .args([
            "issue",
            rec,
            "--keyring",
            "keys.example",
            "--registry",
            &w("r.sqlite"),
            "--out",
            &w("rc.json"),
        ])
        .args(key)
        .assert()
        .success();
    pith()
        .args(["graph", "--record", rec, "--out", &w("g.json")])
        .args(key)
        .assert()
        .success();
    pith()
        .args([
            "bundle",
            &w("rc.json"),
            &w("g.json"),
            "--keyring",
            "keys.example",
            "--out",
            &w("b.json"),
        ])
        .args(key)
        .assert()
        .success();
    pith()
        .args(["verify", &w("b.json"), "--keyring", "keys.example"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "verified bundle pith:2023:FMOYH72BUJMG6MYP73K65CZAP2",
        ));
    pith()
        .args([
            "publish",
            &w("b.json"),
            "--keyring",
            "keys.example",
            "--out",
            &w("site"),
        ])
        .assert()
        .success();
    assert!(
        dir.path()
            .join("site/pith/FMOYH72BUJMG6MYP73K65CZAP2/bundle.json")
            .exists()
    );
    // the graph snapshot shows the paper
    let b = canon::parse(&std::fs::read(w("b.json")).unwrap()).unwrap();
    let paper = b
        .get("events")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .find_map(|e| e.get("payload")?.get("graph_snapshot")?.get("paper"))
        .unwrap()
        .clone();
    assert_eq!(
        paper.get("title").and_then(Value::as_str),
        Some("Neural networks for geospatial data")
    );
    assert_eq!(
        paper.get("authors_text").and_then(Value::as_str),
        Some("Abhirup Datta, Wentao Zhan")
    );
    // and the independent implementation accepts it
    if let Some(pithref) = crate::util::pithref() {
        let pk =
            canon::parse(&std::fs::read("keys.example/pith-example-2026-11.pub.json").unwrap())
                .unwrap()
                .get("public_key_b64")
                .and_then(Value::as_str)
                .unwrap()
                .to_owned();
        crate::util::pithref_ok(
            &pithref,
            &[
                "verify".as_ref(),
                w("b.json").as_ref(),
                "--pubkey-b64".as_ref(),
                pk.as_ref(),
            ],
        );
    }
}

/// CLI behaviour pinned in data files: one `tests/cmd/*.toml` case per message. The
/// success cases that write (a ledger, a keyring, a site) write under `target/trycmd`,
/// made afresh here from the checked-in data, each case in its own files.
#[test]
fn cli_cases() {
    let s = std::path::Path::new("target/trycmd");
    if s.exists() {
        std::fs::remove_dir_all(s).unwrap();
    }
    std::fs::create_dir_all(s).unwrap();
    for l in [
        "bundle",
        "checkpoint",
        "publish",
        "witness",
        "event",
        "graph",
        "resign",
    ] {
        std::fs::copy(
            "tests/cmd/data/ledger-main-job.sqlite",
            s.join(format!("ledger-{l}.sqlite")),
        )
        .unwrap();
    }
    // a keyring of one key to rotate; the example keyring, already rotated, to revoke in
    for (ring, only) in [
        ("ring-rotate", "pith-example-2026-11."),
        ("ring-revoke", ""),
        ("ring-compromise", ""),
        ("ring-compromise-json", ""),
    ] {
        std::fs::create_dir(s.join(ring)).unwrap();
        for f in std::fs::read_dir("keys.example").unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap();
            if name.to_string_lossy().starts_with(only) {
                std::fs::copy(&f, s.join(ring).join(name)).unwrap();
            }
        }
    }
    // the witness cosigns the log's checkpoint
    pith()
        .args(["log", "checkpoint", "--key", KEY, "--passphrase-file", PASS])
        .args(["--registry", "target/trycmd/ledger-witness.sqlite"])
        .args(["-o", "target/trycmd/checkpoint"])
        .assert()
        .success();
    // a monitor audits a published log
    pith()
        .args(["log", "checkpoint", "--key", KEY, "--passphrase-file", PASS])
        .args(["--registry", "target/trycmd/ledger-publish.sqlite"])
        .assert()
        .success();
    pith()
        .args(["publish", "--keyring", "keys.example"])
        .args(["--registry", "target/trycmd/ledger-publish.sqlite"])
        .args(["--out", "target/trycmd/audit-site"])
        .assert()
        .success();
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}

/// `pith … | head -1`: the reader goes away; pith ends quietly with exit 0, no panic.
#[test]
fn a_closed_pipe_ends_every_streaming_command_quietly() {
    let bin = assert_cmd::cargo::cargo_bin("pith");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.sqlite");
    let db = db.to_str().unwrap();
    let site = dir.path().join("site").to_str().unwrap().to_owned();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
            db,
            "--json",
        ],
        vec![
            "record",
            "tests/data/arxiv/snapshot-head200.jsonl",
            "--default-license",
            "http://example.org/l",
        ],
        vec!["record", "tests/data/arxiv/main-job.abs", "--json"],
        vec!["canon", "tests/data/pith-bundle-2605.18404v1.json"],
        vec![
            "verify",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "keys.example",
            "--json",
        ],
        // from the ledger the issue above filled
        vec!["registry", "export", "--registry", db],
        vec!["registry", "show", "2304.09157", "--registry", db],
        vec![
            "bundle",
            "--all",
            "--registry",
            db,
            "--keyring",
            "keys.example",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
        ],
        vec!["key", "list", "--keyring", "keys.example"],
        vec!["completions", "bash"],
        vec!["man"],
        vec![
            "merge",
            "tests/cmd/data/events-2605.18404v1.jsonl",
            "--keyring",
            "keys.example",
        ],
        vec![
            "audit",
            "export",
            "--log",
            "tests/cmd/data/signer-audit.jsonl",
        ],
        vec![
            "log",
            "head",
            "--registry",
            "tests/cmd/data/ledger-main-job.sqlite",
        ],
        vec![
            "log",
            "prove",
            "pith:2023:FMOYH72BUJMG6MYP73K65CZAP2",
            "--registry",
            "tests/cmd/data/ledger-main-job.sqlite",
        ],
        vec![
            "publish",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            "keys.example",
            "--out",
            &site,
        ],
        vec![
            "graph",
            "--record",
            "tests/data/arxiv/main-job.abs",
            "--key",
            KEY,
            "--passphrase-file",
            PASS,
            "--registry",
            db,
        ],
    ];
    for args in &cases {
        let mut child = std::process::Command::new(&bin)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn the_bash_completion_loads_in_bash_and_completes_subcommands() {
    let script = pith()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("pith.bash");
    std::fs::write(&f, script).unwrap();
    let complete = |words: &str, cword: usize| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _pith pith; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                f.display()
            ))
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let top: Vec<String> = complete("pith re", 1).lines().map(str::to_owned).collect();
    assert!(
        top.contains(&"record".to_owned()) && top.contains(&"registry".to_owned()),
        "{top:?}"
    );
    let key = complete("pith key r", 2);
    assert!(
        key.lines().any(|l| l == "rotate") && key.lines().any(|l| l == "revoke"),
        "{key}"
    );
    // every shell clap_complete knows
    for sh in ["zsh", "fish", "elvish", "powershell"] {
        let out = pith().args(["completions", sh]).assert().success();
        assert!(
            String::from_utf8_lossy(&out.get_output().stdout).contains("pith"),
            "{sh}"
        );
    }
    pith()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("invalid value 'tcsh'"));
}

#[test]
fn man_writes_a_page_per_command_and_man_renders_every_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man");
    pith()
        .args(["man", "-o", dir.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicates::str::contains("man page(s) to"));
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "pith.1",
        "pith-issue.1",
        "pith-key-generate.1",
        "pith-registry-import.1",
        "pith-man.1",
    ] {
        assert!(pages.contains(&want.to_owned()), "{want} in {pages:?}");
    }
    for p in &pages {
        let out = std::process::Command::new("man")
            .arg("-l")
            .arg(dir.join(p))
            .env("MANWIDTH", "100")
            .env("MAN_KEEP_FORMATTING", "0")
            .output()
            .expect("man is installed (.ci/run installs man-db)");
        assert!(
            out.status.success(),
            "{p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // without a terminal man still overstrikes bold (X BS X): drop the overstrikes
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut text = String::new();
        for c in raw.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        let name = p.trim_end_matches(".1");
        assert!(text.contains("NAME") && text.contains(name), "{p}: {text}");
    }
    // a second run refuses to overwrite without --force
    pith()
        .args(["man", "-o", dir.to_str().unwrap()])
        .assert()
        .code(1);
    pith()
        .args(["man", "-o", dir.to_str().unwrap(), "--force"])
        .assert()
        .success();
}

/// A command that fails leaves nothing behind: no ledger for a missing input or a refused
/// artifact, no key directory when the passphrase cannot be read; and planning a signing
/// request never creates a ledger, at the time `--at` names.
#[test]
fn failed_commands_create_nothing_and_a_request_plans_at_its_time() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_owned();
    let key = KEY;
    let pass = PASS;
    pith()
        .args([
            "issue",
            &p("missing.abs"),
            "--key",
            key,
            "--passphrase-file",
            pass,
        ])
        .args(["--registry", &p("a.sqlite")])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("missing.abs: No such file"));
    pith()
        .args(["registry", "add", "tests/cmd/data/event-tampered.json"])
        .args(["--keyring", "keys.example", "--registry", &p("b.sqlite")])
        .assert()
        .code(1);
    pith()
        .args(["key", "generate", "--out-dir", &p("k/new")])
        .args(["--passphrase-file", &p("no-pass")])
        .assert()
        .code(2);
    let at = "2026-11-20T08:00:00Z";
    pith()
        .args([
            "issue",
            "tests/data/arxiv/main-job.abs",
            "--request",
            &p("req.json"),
        ])
        .args([
            "--signer",
            "pith-example-2026-11",
            "--keyring",
            "keys.example",
        ])
        .args(["--registry", &p("c.sqlite"), "--at", at])
        .assert()
        .success();
    let left: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["req.json"], "only the request is written");
    let req: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("req.json")).unwrap()).unwrap();
    let art = &req["items"][0]["artifact"];
    assert_eq!(art["created_at"], at);
    let receipt = &art["payload"]["receipt"];
    assert_eq!(receipt["first_computed_at"], "2026-11-20T08:00:00.000000Z");
    assert_eq!(receipt["last_reissued_at"], "2026-11-20T08:00:00.000000Z");
}
