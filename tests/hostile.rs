//! Hostile input: clear errors, bounded reads, nothing written outside the output.

use pith::format::canon;

use crate::util::{bundle, keyring_dir, pith};

#[test]
fn deep_nesting_and_binary_garbage_are_clear_errors() {
    let deep = vec![b'['; 1_000_000];
    pith()
        .args(["canon", "-"])
        .write_stdin(deep)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nesting deeper than 128"));
    let mut garbage = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push(x as u8);
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("garbage.bin");
    std::fs::write(&f, &garbage).unwrap();
    pith()
        .args(["verify", f.to_str().unwrap(), "--keyring", "keys.example"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "garbage.bin: not valid JSON at byte",
        ));
    pith()
        .args(["record", f.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("garbage.bin"));
}

#[test]
fn an_overlong_line_is_refused_unread_and_the_rest_verify() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("b.jsonl");
    let line = canon::to_canonical(&bundle());
    let mut body = Vec::new();
    body.extend_from_slice(&line);
    body.push(b'\n');
    body.extend(std::iter::repeat_n(b' ', (17 << 20) as usize));
    body.extend_from_slice(b"{}\n");
    body.extend_from_slice(&line);
    body.push(b'\n');
    std::fs::write(&f, &body).unwrap();
    pith()
        .args([
            "verify",
            f.to_str().unwrap(),
            "--keyring",
            "keys.example",
            "--quiet",
        ])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "b.jsonl:2: FAILED line longer than 16 MiB",
        ))
        .stderr(predicates::str::contains("2 verified, 1 failed"));
}

#[test]
fn a_key_id_with_path_separators_is_refused_so_publish_stays_in_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(keyring_dir().join("pith-v1-2026-05.pub.json")).unwrap(),
    )
    .unwrap();
    doc["key_id"] = "../../escaped".into();
    std::fs::write(dir.path().join("evil.pub.json"), doc.to_string()).unwrap();
    let out = dir.path().join("site");
    pith()
        .args([
            "publish",
            "tests/data/pith-bundle-2605.18404v1.json",
            "--keyring",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "$.key_id: expected 1-64 characters",
        ));
    assert!(!out.exists());
    assert!(!dir.path().join("escaped.json").exists());
}

/// What a streamed run printed (line counts and tails, not the whole text) and its peak
/// resident memory, read from `/proc` while it ran.
struct Fed {
    code: Option<i32>,
    stdout_lines: u64,
    stdout_tail: String,
    stderr_lines: u64,
    stderr_tail: String,
    peak_kib: u64,
}

/// Run `pith ARGS` with `feed` writing its stdin; stdout and stderr are drained (counted)
/// concurrently so a run that prints a line per input never blocks.
fn fed(args: &[&str], feed: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Fed {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pith"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut n = 0u64;
            let mut tail = std::collections::VecDeque::new();
            for line in BufReader::new(r).split(b'\n') {
                n += 1;
                tail.push_back(String::from_utf8_lossy(&line.unwrap()).into_owned());
                if tail.len() > 3 {
                    tail.pop_front();
                }
            }
            (n, Vec::from(tail).join("\n"))
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = format!("/proc/{}/status", child.id());
    let peak = || -> u64 {
        std::fs::read_to_string(&status)
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let mut stdin = child.stdin.take().unwrap();
    feed(&mut stdin).unwrap();
    // the high-water mark once everything but the last pipe-full is read
    let peak_kib = peak();
    drop(stdin);
    let code = child.wait().unwrap().code();
    let (stdout_lines, stdout_tail) = out.join().unwrap();
    let (stderr_lines, stderr_tail) = err.join().unwrap();
    Fed {
        code,
        stdout_lines,
        stdout_tail,
        stderr_lines,
        stderr_tail,
        peak_kib,
    }
}

/// A license for snapshot records that state none.
const LIC: &str = "http://arxiv.org/licenses/assumed-1991-2003/";

/// The first record of the snapshot fixture: one valid JSON line.
fn snapshot_line() -> String {
    let text = std::fs::read_to_string(crate::util::data("arxiv/snapshot-head200.jsonl")).unwrap();
    text.lines().next().unwrap().to_owned() + "\n"
}

/// Write `n` bytes of `b` (no line end).
fn write_run(w: &mut dyn std::io::Write, b: u8, n: usize) -> std::io::Result<()> {
    let block = vec![b; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        w.write_all(&block[..k])?;
        left -= k;
    }
    Ok(())
}

#[test]
fn a_one_gib_line_is_refused_unread_with_bounded_memory() {
    // a 1 GiB line in the middle of a stream, and as its first line; the good
    // lines around it still make records, and memory stays far below the line's size
    let rec = snapshot_line();
    let cases: [(u64, u8, &str, u64); 2] = [(2, b'x', "middle", 2), (1, b'{', "first", 1)];
    for (line, fill, place, good) in cases {
        let run = fed(&["record", "-", "--default-license", LIC], |w| {
            if line > 1 {
                w.write_all(rec.as_bytes())?;
            }
            write_run(w, fill, 1 << 30)?;
            w.write_all(b"\n")?;
            w.write_all(rec.as_bytes())
        });
        let err = &run.stderr_tail;
        assert_eq!(run.code, Some(1), "{place}: {err}");
        assert_eq!(
            run.stdout_lines, good,
            "{place}: every good line made a record"
        );
        assert!(
            err.contains(&format!("line {line}")) && err.contains("longer than 16 MiB"),
            "{place}: {err}"
        );
        assert!(
            run.peak_kib > 0 && run.peak_kib < 96 << 10,
            "{place}: peak RSS {} KiB",
            run.peak_kib
        );
    }
}

#[test]
#[ignore = "long: 10 million tiny records through bulk verify and bulk record (bounded memory)"]
fn ten_million_tiny_records() {
    // every tiny line is refused with its own line number; memory stays flat
    const N: u64 = 10_000_000;
    let tiny = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
        let block = b"{}\n".repeat(1 << 16);
        for _ in 0..N / (1 << 16) {
            w.write_all(&block)?;
        }
        w.write_all(&b"{}\n".repeat((N % (1 << 16)) as usize))
    };
    let mut first = canon::to_canonical(&bundle());
    first.push(b'\n');
    let v = fed(
        &["verify", "-", "--keyring", "keys.example", "--quiet"],
        |w| {
            w.write_all(&first)?;
            tiny(w)
        },
    );
    assert_eq!(v.code, Some(1), "{}", v.stderr_tail);
    assert_eq!(v.stdout_lines, N, "one FAILED line per tiny record");
    assert!(
        v.stdout_tail
            .contains(&format!("<stdin>:{}: FAILED not a pith artifact", N + 1)),
        "{}",
        v.stdout_tail
    );
    assert!(
        v.stderr_tail.contains(&format!("1 verified, {N} failed")),
        "{}",
        v.stderr_tail
    );
    assert!(
        v.peak_kib > 0 && v.peak_kib < 64 << 10,
        "verify peak RSS {} KiB",
        v.peak_kib
    );

    let rec = snapshot_line();
    let r = fed(&["record", "-", "--default-license", LIC], |w| {
        w.write_all(rec.as_bytes())?;
        tiny(w)
    });
    assert_eq!(r.code, Some(1), "{}", r.stderr_tail);
    assert_eq!(r.stdout_lines, 1);
    assert!(
        r.stderr_lines >= N,
        "one refusal per tiny record: {}",
        r.stderr_lines
    );
    assert!(
        r.stderr_tail.contains(&format!("line {}", N + 1)),
        "{}",
        r.stderr_tail
    );
    assert!(
        r.peak_kib > 0 && r.peak_kib < 64 << 10,
        "record peak RSS {} KiB",
        r.peak_kib
    );
}

#[test]
fn an_xml_entity_bomb_is_an_error_not_an_expansion() {
    let mut x = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE feed [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        x.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!(
                "&lol{};",
                if i == 1 {
                    String::new()
                } else {
                    (i - 1).to_string()
                }
            )
            .repeat(10)
        ));
    }
    x.push_str("]>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>http://arxiv.org/abs/2101.00001v1</id><title>&lol9;</title><summary>s</summary><published>2021-01-01T00:00:00Z</published><category term=\"cs.CR\"/></entry></feed>\n");
    let start = std::time::Instant::now();
    let r = pith::arxiv::read(
        x.as_bytes(),
        "bomb.xml",
        &pith::arxiv::ReadOptions::default(),
    );
    assert!(start.elapsed().as_secs() < 5);
    let e = r.expect_err("an entity bomb was accepted");
    assert!(e.message.contains("malformed XML"), "{e}");
}

#[test]
fn a_killed_runs_temp_files_are_removed_by_the_next_run_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    // pid_max is at most 2^22: this process cannot exist
    let stale = dir.path().join(".pith-tmp-4194304999-abcdef");
    let live = dir.path().join(".pith-tmp-1-abcdef");
    let other = dir.path().join(".pith-tmp-notapid");
    for p in [&stale, &live, &other] {
        std::fs::write(p, b"partial").unwrap();
    }
    let input = dir.path().join("in.json");
    std::fs::write(&input, b"[1]").unwrap();
    crate::util::pith()
        .args([
            "canon",
            input.to_str().unwrap(),
            "--out",
            dir.path().join("out.json").to_str().unwrap(),
        ])
        .assert()
        .success();
    assert!(!stale.exists(), "a dead process's temp file is cleaned");
    assert!(
        live.exists() && other.exists(),
        "live or unknown files are never touched"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(".pith-tmp-") && n != ".pith-tmp-1-abcdef" && n != ".pith-tmp-notapid"
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn file_names_and_messages_reach_the_terminal_with_controls_made_visible() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("evil\u{1b}[2J\u{202e}.json");
    std::fs::write(&name, b"{\"a\":1,\"a\":2}").unwrap();
    let out = crate::util::pith()
        .arg("verify")
        .arg(&name)
        .args(["--keyring", "keys.example"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{202e}'),
        "{err:?}"
    );
    assert!(err.contains("evil\\u{1b}[2J\\u{202e}.json"), "{err}");
}
