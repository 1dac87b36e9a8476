//! Graph snapshots (spec §9): the `graph_snapshot` payload built from a paper, an optional
//! verdict and the operator's opaque sections.

use crate::arxiv::Paper;
use crate::format::canon::{self, Map, Value};
use crate::format::digest::{canon_sha256_without, collapse_ws};
use crate::format::rules;

/// Code points of the abstract kept in `paper.abstract_excerpt` (spec §9).
pub(crate) const EXCERPT_CHARS: usize = 600;

/// The sections pith takes from the operator as they are (their `snapshot_sha256` kept).
pub(crate) const OPERATOR_SECTIONS: [&str; 4] =
    ["integrity", "references", "formal_canon", "author_claims"];

/// The claim table of spec §9: verdict field, claim kind, claim source.
const CLAIMS: [(&str, &str, &str); 4] = [
    (
        "strongest_claim",
        "strongest_claim",
        "verdict.strongest_claim",
    ),
    (
        "weakest_assumption",
        "weakest_assumption",
        "verdict.weakest_assumption",
    ),
    (
        "one_line_summary",
        "one_line_summary",
        "verdict.one_line_summary",
    ),
    (
        "pith_extraction_headline",
        "headline",
        "verdict.pith_extraction.headline",
    ),
];

/// Input that cannot make a snapshot: names the file's JSON path.
#[derive(Debug, thiserror::Error)]
#[error("{path}: expected {expected}")]
pub struct GraphError {
    /// JSON path in the verdict or sections file.
    pub path: String,
    /// What was expected.
    pub expected: String,
}

fn err(path: &str, expected: &str) -> GraphError {
    GraphError {
        path: path.into(),
        expected: expected.into(),
    }
}

/// **decided**: a section pith builds itself gets `snapshot_sha256` =
/// hex(sha256(canon(section without `snapshot_sha256`))).
fn seal(m: Map, given: Option<&Value>) -> Value {
    let mut v = Value::Object(m);
    let d = given
        .cloned()
        .unwrap_or_else(|| canon_sha256_without(&v, &["snapshot_sha256"]).hex().into());
    if let Some(m) = v.as_object_mut() {
        m.insert("snapshot_sha256".into(), d);
    }
    v
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// The `graph_snapshot` payload (`{graph_snapshot, verdict_id}`) for a paper.
///
/// `verdict` is the registry's verdict object (`id`, `model_set`, `created_at`,
/// `pipeline_version`, `strongest_claim`, `weakest_assumption`, `one_line_summary`,
/// `pith_extraction.headline`); `sections` may hold `integrity`, `references`,
/// `formal_canon`, `author_claims` (kept whole) and `claims.snapshot_sha256`.
pub fn payload(
    paper: &Paper,
    record: &Value,
    verdict: Option<&Value>,
    sections: Option<&Value>,
) -> Result<Value, GraphError> {
    let md = record
        .get("metadata")
        .ok_or_else(|| err("$.metadata", "a canonical record"))?;
    // the verdict's fields, checked
    let mut vf: Vec<(&str, String)> = Vec::new();
    if let Some(v) = verdict {
        if v.as_object().is_none() {
            return Err(err("$", "a verdict object"));
        }
        for (field, _, _) in CLAIMS {
            let got = if field == "pith_extraction_headline" {
                match v.get("pith_extraction") {
                    None | Some(Value::Null) => v.get("pith_extraction_headline"),
                    Some(p) => p.get("headline"),
                }
            } else {
                v.get(field)
            };
            let text = match got {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(t)) => t.clone(),
                Some(_) => return Err(err(&format!("$.{field}"), "a string or null")),
            };
            vf.push((field, text));
        }
        if !matches!(v.get("id"), Some(Value::String(_))) {
            return Err(err("$.id", "the verdict id (a string)"));
        }
    }
    let headline = vf
        .iter()
        .find(|(f, _)| *f == "pith_extraction_headline")
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let mut authors = paper.authors.clone();
    authors.sort();
    let excerpt: String = collapse_ws(&paper.abstract_text)
        .chars()
        .take(EXCERPT_CHARS)
        .collect();
    let paper_v = canon::object([
        ("title", collapse_ws(&paper.title).into()),
        ("license", md.get("license").cloned().unwrap_or(Value::Null)),
        ("headline", headline.into()),
        (
            "cross_cats",
            md.get("cross_cats_sorted")
                .cloned()
                .unwrap_or(Value::Array(Vec::new())),
        ),
        (
            "primary_cat",
            md.get("primary_cat").cloned().unwrap_or(Value::Null),
        ),
        ("authors_text", authors.join(", ").into()),
        (
            "submitted_at",
            md.get("submitted_at").cloned().unwrap_or(Value::Null),
        ),
        ("abstract_excerpt", excerpt.into()),
    ]);
    let mut items = Vec::new();
    for (field, kind, source) in CLAIMS {
        let Some((_, text)) = vf.iter().find(|(f, _)| *f == field) else {
            continue;
        };
        if text.is_empty() {
            continue;
        }
        items.push(canon::object([
            ("kind", kind.into()),
            ("text", text.as_str().into()),
            ("source", source.into()),
            ("status", "machine_extracted".into()),
            ("claim_id", format!("C{}", items.len() + 1).into()),
            ("attestation", "unclaimed".into()),
        ]));
    }
    let mut claims = Map::new();
    claims.insert("count".into(), (items.len() as u64).into());
    claims.insert("items".into(), Value::Array(items));
    let given_claims = sections
        .and_then(|x| x.get("claims"))
        .and_then(|c| c.get("snapshot_sha256"));
    let verdict_v = match verdict {
        Some(v) => canon::object([
            ("id", v.get("id").cloned().unwrap_or(Value::Null)),
            (
                "model_set",
                v.get("model_set")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new())),
            ),
            (
                "created_at",
                v.get("created_at").cloned().unwrap_or(Value::Null),
            ),
            (
                "pipeline_version",
                v.get("pipeline_version").cloned().unwrap_or(Value::Null),
            ),
            ("strongest_claim", text_of(&vf, "strongest_claim")),
            ("one_line_summary", text_of(&vf, "one_line_summary")),
            ("weakest_assumption", text_of(&vf, "weakest_assumption")),
            (
                "pith_extraction_headline",
                text_of(&vf, "pith_extraction_headline"),
            ),
        ]),
        // the no-verdict shape seen in a published state (spec §9)
        None => canon::object([
            ("id", Value::Null),
            ("created_at", Value::Null),
            ("model_set", Value::Object(Map::new())),
            ("pipeline_version", Value::Null),
            ("strongest_claim", "".into()),
            ("one_line_summary", "".into()),
            ("weakest_assumption", "".into()),
            ("pith_extraction_headline", "".into()),
        ]),
    };
    let source_id = record
        .get("source")
        .and_then(|x| s(x, "id"))
        .unwrap_or_default()
        .to_owned();
    let mut snap = Map::new();
    snap.insert("paper".into(), paper_v);
    snap.insert("claims".into(), seal(claims, given_claims));
    snap.insert(
        "source".into(),
        record.get("source").cloned().unwrap_or(Value::Null),
    );
    snap.insert("verdict".into(), verdict_v);
    for name in OPERATOR_SECTIONS {
        let given = sections.and_then(|x| x.get(name));
        let v = match given {
            Some(Value::Object(m)) => {
                if m.contains_key("snapshot_sha256") {
                    Value::Object(m.clone())
                } else {
                    seal(m.clone(), None)
                }
            }
            Some(_) => return Err(err(&format!("$.{name}"), "an object")),
            None => seal(empty_section(name, &source_id), None),
        };
        snap.insert(name.into(), v);
    }
    snap.insert("builder_version".into(), rules::BUILDER_VERSION.into());
    Ok(canon::object([
        ("graph_snapshot", Value::Object(snap)),
        (
            "verdict_id",
            verdict
                .and_then(|v| v.get("id"))
                .cloned()
                .unwrap_or(Value::Null),
        ),
    ]))
}

fn text_of(vf: &[(&str, String)], field: &str) -> Value {
    vf.iter()
        .find(|(f, _)| *f == field)
        .map(|(_, t)| t.as_str())
        .unwrap_or("")
        .into()
}

/// The empty shape of an operator section (spec §9, no-verdict state).
fn empty_section(name: &str, source_id: &str) -> Map {
    let v = match name {
        "references" => canon::object([
            ("count", 0u64.into()),
            ("sample", Value::Array(Vec::new())),
            ("resolved_work", 0u64.into()),
            ("internal_anchors", 0u64.into()),
        ]),
        "formal_canon" => canon::object([("evidence_count", 0u64.into())]),
        "author_claims" => canon::object([("count", 0u64.into()), ("strong_count", 0u64.into())]),
        _ => canon::object([
            ("available", false.into()),
            ("clean", Value::Null),
            (
                "summary",
                canon::object([
                    ("advisory", 0u64.into()),
                    ("critical", 0u64.into()),
                    ("by_detector", Value::Object(Map::new())),
                    ("informational", 0u64.into()),
                ]),
            ),
            (
                "endpoint",
                format!("/pith/{source_id}/integrity.json").into(),
            ),
            ("findings", Value::Array(Vec::new())),
            ("detectors_run", Value::Array(Vec::new())),
        ]),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
