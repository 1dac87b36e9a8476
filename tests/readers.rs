//! arXiv readers: each fixture checked field by field against values read off the
//! files by hand, odd cases, version selection, detection, refusals. Fixtures are real
//! (tests/data/arxiv, see PROVENANCE.md).

use pith::arxiv::{self, Format, Item, ReadOptions, Rejected};
use pith::format::canon::Value;

use crate::util::{data, pith};

fn read_with(
    name: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, arxiv::ReadError> {
    let bytes = std::fs::read(data(&format!("arxiv/{name}"))).unwrap();
    arxiv::read(&bytes, name, opts)
}

fn ok(name: &str) -> Vec<Item> {
    read_with(
        name,
        &ReadOptions {
            default_license: Some("http://example.org/operator-default".into()),
            ..ReadOptions::default()
        },
    )
    .unwrap()
    .into_iter()
    .map(|r| r.unwrap())
    .collect()
}

fn md<'a>(i: &'a Item, k: &str) -> &'a Value {
    i.record.get("metadata").unwrap().get(k).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn cats(i: &Item) -> Vec<&str> {
    md(i, "cross_cats_sorted")
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect()
}

#[allow(clippy::too_many_arguments)] // one argument per field checked
fn check(
    i: &Item,
    id: &str,
    version: i128,
    submitted: &str,
    primary: &str,
    cross: &[&str],
    license: &str,
    title: &str,
) {
    let src = i.record.get("source").unwrap();
    assert_eq!(s(src.get("id").unwrap()), id);
    assert_eq!(
        src.get("version").and_then(Value::as_int),
        Some(version),
        "{id}"
    );
    assert_eq!(s(md(i, "submitted_at")), submitted, "{id}");
    assert_eq!(s(md(i, "primary_cat")), primary, "{id}");
    assert_eq!(cats(i), cross, "{id}");
    assert_eq!(s(md(i, "license")), license, "{id}");
    let p = i.paper.as_ref().unwrap();
    assert_eq!(pith::format::digest::collapse_ws(&p.title), title, "{id}");
    assert_eq!(
        s(md(i, "title_canon_sha256")),
        pith::format::digest::text_canon_sha256(&p.title)
    );
    // every record is well formed
    let mut ck = pith::verify::check::Checker::new(None);
    assert!(
        pith::verify::check::record(&mut ck, Some(&i.record), "$").is_some() && ck.ok(),
        "{id}: {:?}",
        ck.failures
    );
}

const DEF: &str = "http://example.org/operator-default";
const NONEX: &str = "http://arxiv.org/licenses/nonexclusive-distrib/1.0/";

#[test]
fn abs_files() {
    let i = &ok("main-job.abs")[0];
    check(
        i,
        "2304.09157",
        2,
        "2023-04-18T17:52:23Z",
        "stat.ML",
        &["cs.LG", "stat.ME"],
        NONEX,
        "Neural networks for geospatial data",
    );
    assert_eq!(
        i.paper.as_ref().unwrap().authors,
        ["Wentao Zhan", "Abhirup Datta"]
    );
    // old-style id, no license (operator default), RFC 2822 date with a one-digit day
    let i = &ok("old-style.abs")[0];
    check(
        i,
        "funct-an/9301001",
        2,
        "1993-01-16T11:49:26Z",
        "funct-an",
        &["math.OA"],
        DEF,
        "Lie-algebras and linear operators with invariant subspaces",
    );
    // withdrawn: issued and flagged; a title with a line break
    let i = &ok("withdrawn.abs")[0];
    assert!(i.paper.as_ref().unwrap().withdrawn);
    assert!(
        pith::format::digest::collapse_ws(&i.paper.as_ref().unwrap().title)
            .starts_with("Weak quasi-Hopf algebras, C*-tensor categories and conformal field")
    );
    assert_eq!(s(md(i, "primary_cat")), "math.QA");
}

#[test]
fn snapshot_lines() {
    let items = ok("snapshot-head200.jsonl");
    assert_eq!(items.len(), 200);
    check(
        &items[0],
        "0704.0001",
        2,
        "2007-04-02T19:18:42Z",
        "hep-ph",
        &[],
        DEF,
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies",
    );
    check(
        &items[1],
        "0704.0002",
        2,
        "2007-03-31T02:26:18Z",
        "math.CO",
        &["cs.CG"],
        NONEX,
        "Sparsity-certifying Graph Decompositions",
    );
    // authors_parsed: Unicode from TeX escapes, "First Last"
    assert!(
        items[0]
            .paper
            .as_ref()
            .unwrap()
            .authors
            .contains(&"C. Balázs".to_owned()),
        "{:?}",
        items[0].paper.as_ref().unwrap().authors
    );
    // without a default license, license-less records are refused, naming file, record, field
    let r = read_with("snapshot-head200.jsonl", &ReadOptions::default()).unwrap();
    let e = r[0].as_ref().unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.record.as_str(), e.field.as_str()),
        ("snapshot-head200.jsonl", "line 1 (0704.0001)", "license")
    );
    assert!(r[1].is_ok());
}

#[test]
fn atom_2026_and_2016_and_api_errors() {
    let items = ok("atom-2026-query.xml");
    assert_eq!(items.len(), 15);
    check(
        &items[0],
        "2202.12139",
        1,
        "2022-02-24T15:05:19Z",
        "cs.SE",
        &["cs.LG"],
        DEF,
        "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques",
    );
    check(
        &items[2],
        "2005.14124",
        2,
        "2020-05-28T16:19:50Z",
        "cs.SE",
        &["cs.CR", "cs.LG"],
        DEF,
        &pith::format::digest::collapse_ws(&items[2].paper.as_ref().unwrap().title),
    );
    let i = &ok("atom-2016-id_list.xml")[0];
    check(
        i,
        "1111.2011",
        2,
        "2011-11-08T18:48:36Z",
        "cond-mat.str-el",
        &["cond-mat.stat-mech"],
        DEF,
        &pith::format::digest::collapse_ws(&i.paper.as_ref().unwrap().title),
    );
    let e = read_with("atom-error-entry.xml", &ReadOptions::default()).unwrap_err();
    assert!(
        e.message
            .contains("error entry: incorrect id format for abc"),
        "{e}"
    );
    let e = read_with("atom-empty-feed.xml", &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("empty feed"), "{e}");
}

#[test]
fn oai_arxiv_and_arxivraw() {
    // arXiv format: date-only `created` is midnight UTC; it states no version, so one is
    // never guessed: refused without --version, taken as the operator's with it
    let refused = read_with(
        "oai-arxiv-record.xml",
        &ReadOptions {
            default_license: Some("http://example.org/operator-default".into()),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let r = refused[0].as_ref().unwrap_err();
    assert_eq!(r.field, "version");
    assert!(r.message.contains("give --version N"), "{}", r.message);
    let named = read_with(
        "oai-arxiv-record.xml",
        &ReadOptions {
            default_license: Some("http://example.org/operator-default".into()),
            version: Some(1),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let i = named[0].as_ref().unwrap();
    check(
        i,
        "1601.03238",
        1,
        "2016-01-13T00:00:00Z",
        "quant-ph",
        &["chao-dyn", "gr-qc", "hep-th", "nlin.CD"],
        "https://creativecommons.org/licenses/by/3.0/",
        "Irreversible degradation of quantum coherence under relativistic motion",
    );
    assert_eq!(i.paper.as_ref().unwrap().authors[1], "Jieci Wang");
    let i = &ok("oai-arxivraw-get.xml")[0];
    check(
        i,
        "1302.2146",
        2,
        "2013-02-08T21:00:01Z",
        "hep-ph",
        &["hep-ex"],
        NONEX,
        "The Same-Sign Dilepton Signature of RPV/MFV SUSY",
    );
    assert_eq!(
        i.paper.as_ref().unwrap().authors,
        [
            "Joshua Berger",
            "Maxim Perelstein",
            "Michael Saelim",
            "Philip Tanedo"
        ]
    );
    let list = ok("oai-arxivraw-list.xml");
    assert_eq!(list.len(), 6);
    check(
        &list[1],
        "0704.0716",
        4,
        "2007-04-05T12:45:03Z",
        "math-ph",
        &["math.MP"],
        NONEX,
        &pith::format::digest::collapse_ws(&list[1].paper.as_ref().unwrap().title),
    );
    let e = read_with("oai-error.xml", &ReadOptions::default()).unwrap_err();
    assert!(e.message.starts_with("OAI-PMH error idDoesNotExist"), "{e}");
}

#[test]
fn version_selection() {
    let opts = |v: Option<u32>, all: bool| ReadOptions {
        version: v,
        all_versions: all,
        default_license: Some(DEF.into()),
        ..ReadOptions::default()
    };
    let r = read_with("oai-arxivraw-get.xml", &opts(Some(1), false)).unwrap();
    assert_eq!(
        r[0].as_ref()
            .unwrap()
            .record
            .get("source")
            .unwrap()
            .get("version")
            .and_then(Value::as_int),
        Some(1)
    );
    let all = read_with("withdrawn.abs", &opts(None, true)).unwrap();
    assert_eq!(all.len(), 8, "withdrawn.abs lists v1..v8");
    // every version keeps the first version's date
    for i in &all {
        assert_eq!(
            s(md(i.as_ref().unwrap(), "submitted_at")),
            "2021-01-25T11:32:05Z"
        );
    }
    let e = read_with("main-job.abs", &opts(Some(9), false)).unwrap();
    let e = e[0].as_ref().unwrap_err();
    assert_eq!(e.field, "version");
    assert!(
        e.message.contains("version 9 is not listed"),
        "{}",
        e.message
    );
}

#[test]
fn detection_and_malformed_input() {
    let det = |n: &str| arxiv::detect(&std::fs::read(data(&format!("arxiv/{n}"))).unwrap());
    assert_eq!(det("main-job.abs"), Some(Format::Abs));
    assert_eq!(det("snapshot-head200.jsonl"), Some(Format::Snapshot));
    assert_eq!(det("atom-2026-query.xml"), Some(Format::Atom));
    assert_eq!(det("oai-arxiv-record.xml"), Some(Format::OaiArxiv));
    assert_eq!(det("oai-arxivraw-get.xml"), Some(Format::OaiArxivRaw));
    let rec =
        pith::format::canon::to_canonical(crate::util::bundle().get("canonical_record").unwrap());
    assert_eq!(arxiv::detect(&rec), Some(Format::Record));
    // malformed XML names its position
    let mut xml = std::fs::read(data("arxiv/oai-arxivraw-get.xml")).unwrap();
    xml.truncate(900);
    xml.extend_from_slice(b"</wrong>");
    let e = arxiv::read(&xml, "cut.xml", &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("malformed XML at byte"), "{e}");
    // an invalid id
    let line = br#"{"id":"not-an-id","title":"t","abstract":"a","categories":"cs.CR","license":"x","versions":[{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"}]}"#;
    let r = arxiv::read(line, "bad.jsonl", &ReadOptions::default()).unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().field, "id");
    // an absurd date
    let line = br#"{"id":"0704.0001","title":"t","abstract":"a","categories":"cs.CR","license":"x","versions":[{"version":"v1","created":"Mon, 2 Apr 1900 19:18:42 GMT"}]}"#;
    let r = arxiv::read(line, "bad.jsonl", &ReadOptions::default()).unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().field, "submitted_at");
}

#[test]
fn snapshot_records_equal_pithref() {
    let Some(pithref) = crate::util::pithref() else {
        return;
    };
    let f = data("arxiv/snapshot-head200.jsonl");
    let script = format!(
        "import importlib.util,json,sys\nspec=importlib.util.spec_from_file_location('pr','{}')\npr=importlib.util.module_from_spec(spec)\nspec.loader.exec_module(pr)\nfor l in open('{}'):\n    print(pr.canon_sha256(pr.canonical_record_from_arxiv(json.loads(l),default_license='{DEF}')))\n",
        pithref.display(),
        f.display()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let ours: Vec<String> = ok("snapshot-head200.jsonl")
        .iter()
        .map(|i| pith::format::digest::canon_sha256(&i.record).hex())
        .collect();
    assert_eq!(ours.len(), 200);
    assert_eq!(ours, theirs);
}

#[test]
fn cli_record_reports_refusals_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let rej = dir.path().join("rejects.jsonl");
    pith()
        .args([
            "record",
            "tests/data/arxiv/snapshot-head200.jsonl",
            "--rejects",
            rej.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "snapshot-head200.jsonl: line 1 (0704.0001): license: no license stated",
        ));
    let r = std::fs::read_to_string(&rej).unwrap();
    assert!(r.lines().count() > 100);
    pith()
        .args(["record", "tests/data/arxiv/main-job.abs", "--json"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "\"pith_number\":\"pith:2023:FMOYH72BUJMG6MYP73K65CZAP2\"",
        ));
}

#[test]
fn a_line_read_once_is_read_as_the_whole_reader_reads_it() {
    // the bulk paths parse each JSON line once (`read_line`); every line of the snapshot
    // fixture, canonical-record lines and bad lines give what `read` gives on the line alone
    let text = std::fs::read_to_string(data("arxiv/snapshot-head200.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let record =
        pith::format::canon::to_canonical(crate::util::bundle().get("canonical_record").unwrap());
    lines.push(String::from_utf8(record).unwrap());
    for bad in [
        "{}",
        "[1]",
        "{\"id\":1}",
        "{\"id\":\"0704.0001\",\"versions\":[]}",
        "{\"id\":\"0704.0001\",\"versions\":[{\"version\":\"v1\"}]}",
        "{\"schema_version\":1,\"source\":{},\"metadata\":{}}",
        "{\"id\": ",
        "not json",
        "  ",
    ] {
        lines.push(bad.to_owned());
    }
    let summary = |r: Result<Vec<Result<Item, Rejected>>, arxiv::ReadError>| match r {
        Ok(items) => items
            .into_iter()
            .map(|i| match i {
                Ok(i) => format!(
                    "{} {}",
                    i.position,
                    String::from_utf8(pith::format::canon::to_canonical(&i.record)).unwrap()
                ),
                Err(r) => format!("{r:?}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("error {e}"),
    };
    for format in [None, Some(Format::Snapshot), Some(Format::Record)] {
        for license in [None, Some("http://arxiv.org/licenses/assumed-1991-2003/")] {
            let opts = ReadOptions {
                format,
                default_license: license.map(str::to_owned),
                ..ReadOptions::default()
            };
            for l in &lines {
                assert_eq!(
                    summary(arxiv::read_line(l.as_bytes(), "f", &opts)),
                    summary(arxiv::read(l.trim().as_bytes(), "f", &opts)),
                    "{format:?} {l}"
                );
            }
        }
    }
}

#[test]
fn record_writes_out_atomically_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.txt");
    let abs = data("arxiv/main-job.abs");
    let shown = pith()
        .args(["record", abs.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    pith()
        .args([
            "record",
            abs.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read(&out).unwrap(), shown);
    pith()
        .args([
            "record",
            abs.to_str().unwrap(),
            "--json",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&out).unwrap(), shown, "left intact");
    pith()
        .args([
            "record",
            abs.to_str().unwrap(),
            "--json",
            "--force",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert!(v.get("canonical_record").is_some(), "{v}");
}

#[test]
fn version_0_is_refused_everywhere() {
    // an Atom entry naming v0 (arXiv numbers versions from 1)
    let text = std::fs::read_to_string(data("arxiv/atom-2016-id_list.xml"))
        .unwrap()
        .replace("1111.2011v2", "1111.2011v0");
    let items = arxiv::read(
        text.as_bytes(),
        "v0.xml",
        &ReadOptions {
            default_license: Some("http://example.org/l".into()),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    let r = items.into_iter().next().unwrap().unwrap_err();
    assert!(r.to_string().contains("a version of at least 1"), "{r}");
    // and on the command line, for every reader
    for cmd in [
        &["record", "tests/data/arxiv/main-job.abs", "--version", "0"][..],
        &[
            "graph",
            "--record",
            "tests/data/arxiv/main-job.abs",
            "--version",
            "0",
            "--key",
            "x",
        ][..],
    ] {
        crate::util::pith()
            .args(cmd)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("0 is not in 1.."));
    }
}

#[test]
fn every_reader_format_reads_from_stdin_as_from_a_file() {
    let lic = "http://example.org/operator-default";
    for f in [
        "main-job.abs",
        "old-style.abs",
        "atom-2026-query.xml",
        "atom-2016-id_list.xml",
        "oai-arxiv-record.xml",
        "oai-arxivraw-get.xml",
        "oai-arxivraw-list.xml",
        "snapshot-head200.jsonl",
    ] {
        let path = data(&format!("arxiv/{f}"));
        // OAI-PMH arXiv states no version: the operator names it
        let version: &[&str] = if f == "oai-arxiv-record.xml" {
            &["--version", "1"]
        } else {
            &[]
        };
        let from_file = crate::util::pith()
            .args(["record", path.to_str().unwrap(), "--default-license", lic])
            .args(version)
            .assert()
            .get_output()
            .clone();
        let from_stdin = crate::util::pith()
            .args(["record", "-", "--default-license", lic])
            .args(version)
            .write_stdin(std::fs::read(&path).unwrap())
            .assert()
            .get_output()
            .clone();
        assert_eq!(from_stdin.status.code(), from_file.status.code(), "{f}");
        assert!(!from_file.stdout.is_empty(), "{f}");
        assert_eq!(from_stdin.stdout, from_file.stdout, "{f}");
    }
}

/// The version rules, format by format, from the command line: with no flag the latest
/// listed version; `--all-versions` one record per listed version; `--version N` only if
/// listed; a format that lists none (OAI-PMH `arXiv`) needs `--version N` and takes it
/// as the operator's.
#[test]
fn version_rules_per_format() {
    let lic = "http://example.org/operator-default";
    // (fixture, records by default, with --all-versions, a listed version, an unlisted one)
    type Want = Result<usize, &'static str>;
    let table: [(&str, Want, Want, u32, u32); 9] = [
        ("main-job.abs", Ok(1), Ok(2), 1, 3),
        ("old-style.abs", Ok(1), Ok(2), 1, 3),
        ("withdrawn.abs", Ok(1), Ok(8), 7, 9),
        ("atom-2016-id_list.xml", Ok(1), Ok(1), 2, 1),
        ("oai-arxivraw-get.xml", Ok(1), Ok(2), 1, 3),
        ("oai-arxivraw-list.xml", Ok(6), Ok(12), 1, 7),
        (
            "oai-arxiv-record.xml",
            Err("does not state the paper's version: give --version N"),
            Err("does not list the paper's versions, so --all-versions has none to read"),
            5,
            0,
        ),
        ("snapshot-head200.jsonl", Ok(200), Ok(0), 1, 99),
        ("atom-2026-query.xml", Ok(15), Ok(15), 0, 99),
    ];
    let run = |f: &str, args: &[&str]| {
        let out = pith()
            .args(["record", data(&format!("arxiv/{f}")).to_str().unwrap()])
            .args(["--default-license", lic])
            .args(args)
            .output()
            .unwrap();
        let n = out.stdout.iter().filter(|b| **b == b'\n').count();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), n, err)
    };
    let expect = |f: &str, args: &[&str], want: Result<usize, &str>| {
        let (code, n, err) = run(f, args);
        match want {
            Ok(0) => assert_eq!(code, Some(0), "{f} {args:?}: {err}"),
            Ok(want) => {
                assert_eq!((code, n), (Some(0), want), "{f} {args:?}: {err}");
            }
            Err(msg) => {
                assert_eq!((code, n), (Some(1), 0), "{f} {args:?}");
                assert!(err.contains(msg), "{f} {args:?}: {err}");
            }
        }
        n
    };
    for (f, default, all, listed, unlisted) in table {
        expect(f, &[], default);
        let n_all = expect(f, &["--all-versions"], all);
        if f == "snapshot-head200.jsonl" {
            // every snapshot line lists its versions: more records than lines
            assert!(n_all > 200, "{n_all}");
        }
        if listed > 0 {
            let (code, n, err) = run(f, &["--version", &listed.to_string()]);
            assert_eq!(code, Some(0), "{f} --version {listed}: {err}");
            assert!(n >= 1, "{f}");
        }
        if unlisted > 0 {
            let (code, n, err) = run(f, &["--version", &unlisted.to_string()]);
            assert_eq!((code, n), (Some(1), 0), "{f} --version {unlisted}");
            assert!(
                err.contains(&format!("version {unlisted} is not listed")),
                "{f}: {err}"
            );
        }
    }
    // the operator's version on a format that states none is taken as stated
    let (code, _, err) = run("oai-arxiv-record.xml", &["--version", "5"]);
    assert_eq!(code, Some(0), "{err}");
    let out = pith()
        .args([
            "record",
            data("arxiv/oai-arxiv-record.xml").to_str().unwrap(),
        ])
        .args(["--default-license", lic, "--version", "5"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 1601.03238v5 "));
}

/// A bulk issue from stdin with `--all-versions` issues every version each line lists,
/// one number per version, in input order.
#[test]
fn bulk_issue_reads_every_version_of_a_snapshot_line() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("l.sqlite");
    let lines: Vec<u8> = std::fs::read(data("arxiv/snapshot-head200.jsonl"))
        .unwrap()
        .split_inclusive(|b| *b == b'\n')
        .take(3)
        .flatten()
        .copied()
        .collect();
    let want = pith()
        .args(["record", "-", "--all-versions"])
        .args(["--default-license", "http://example.org/l"])
        .write_stdin(lines.clone())
        .output()
        .unwrap();
    let want: Vec<String> = String::from_utf8_lossy(&want.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(want.len(), 7, "the first three lines list 7 versions");
    let out = pith()
        .args(["issue", "-", "--all-versions"])
        .args(["--default-license", "http://example.org/l"])
        .args([
            "--key",
            crate::log::KEY,
            "--passphrase-file",
            crate::log::PASS,
        ])
        .arg("--registry")
        .arg(&db)
        .write_stdin(lines)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let got: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["subject_pith_number"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(got, want);
}
