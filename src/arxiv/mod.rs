//! Readers for arXiv metadata in every format operators feed in (spec §6).
//!
//! `detect` and `read` with the types below are the interface; the readers live in
//! `formats.rs` (snapshot, `.abs`, Atom, OAI-PMH) and here (plain canonical records).

use crate::format::canon::Value;
use crate::format::time::Timestamp;

/// An input format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// arXiv API Atom feed (2016 and 2026 shapes).
    Atom,
    /// OAI-PMH `arXiv` metadata format (GetRecord or ListRecords).
    OaiArxiv,
    /// OAI-PMH `arXivRaw` metadata format (per-version dates).
    OaiArxivRaw,
    /// The metadata snapshot, JSON lines (Kaggle `arxiv-metadata-oai-snapshot`).
    Snapshot,
    /// An arXiv `.abs` file.
    Abs,
    /// A plain JSON canonical record (spec §6).
    Record,
}

impl Format {
    /// The `--format` names: atom, oai-arxiv, oai-arxivraw, snapshot, abs, record.
    pub const NAMES: &'static [&'static str] = &[
        "atom",
        "oai-arxiv",
        "oai-arxivraw",
        "snapshot",
        "abs",
        "record",
    ];
    /// Parse a `--format` name.
    pub fn parse(name: &str) -> Option<Format> {
        Some(match name {
            "atom" => Format::Atom,
            "oai-arxiv" => Format::OaiArxiv,
            "oai-arxivraw" => Format::OaiArxivRaw,
            "snapshot" => Format::Snapshot,
            "abs" => Format::Abs,
            "record" => Format::Record,
            _ => return None,
        })
    }
    /// The `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::OaiArxiv => "oai-arxiv",
            Format::OaiArxivRaw => "oai-arxivraw",
            Format::Snapshot => "snapshot",
            Format::Abs => "abs",
            Format::Record => "record",
        }
    }
}

/// One version of a paper as the source lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// Version number (1-based).
    pub version: u32,
    /// Its submission time, when the source gives it.
    pub submitted: Option<Timestamp>,
}

/// A paper version as read from a source: everything the canonical record and the graph
/// snapshot (spec §9 `paper`) need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paper {
    /// arXiv id without version: `2605.18404` or `hep-th/9901001`.
    pub id: String,
    /// The version this item is about.
    pub version: u32,
    /// Every version the source lists (at least this one).
    pub versions: Vec<VersionInfo>,
    /// Submission time of the first version, whole seconds UTC (spec §6).
    pub submitted_at: Timestamp,
    /// Title as the source gives it (before the text rule).
    pub title: String,
    /// Abstract as the source gives it.
    pub abstract_text: String,
    /// Authors as "First Last", Unicode where the source gives it (spec §9 decided).
    pub authors: Vec<String>,
    /// Primary category.
    pub primary_cat: String,
    /// The other categories, de-duplicated and sorted.
    pub cross_cats_sorted: Vec<String>,
    /// License URL, when the source states one.
    pub license: Option<String>,
    /// The paper (or this version) is withdrawn.
    pub withdrawn: bool,
}

/// One item read from an input: its canonical record and, except for `record` input, the
/// paper it came from.
#[derive(Clone, Debug)]
pub struct Item {
    /// Where in the input: `entry 3 (2605.18404v1)`, `line 17`, ...
    pub position: String,
    /// The canonical record (spec §6).
    pub record: Value,
    /// The paper, when the input carried one.
    pub paper: Option<Paper>,
}

/// A record the reader refused; the rest of the input is still read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// The input file name as given.
    pub file: String,
    /// The record: its id when known, else its position.
    pub record: String,
    /// The field at fault (`license`, `published`, `id`, ...).
    pub field: String,
    /// What was expected and what was found.
    pub message: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // a whole input refused has no record or field to name
        write!(f, "{}", self.file)?;
        for part in [&self.record, &self.field] {
            if !part.is_empty() {
                write!(f, ": {part}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl From<ReadError> for Rejected {
    /// A whole input that cannot be read, as the one refusal it makes in a run that goes
    /// on with the other inputs: no record or field (empty in `--rejects` too).
    fn from(e: ReadError) -> Self {
        Rejected {
            file: e.file,
            record: String::new(),
            field: String::new(),
            message: e.message,
        }
    }
}

/// The message when no reader recognises the input (the operator may name the format).
pub const NO_FORMAT: &str =
    "unknown format: expected Atom, OAI-PMH, snapshot JSON lines, .abs or a canonical record";
/// The message when a record states no license and none was named (spec §6, decided).
pub const NO_LICENSE: &str = "no license stated, and no default license named";

/// A whole input that cannot be read: malformed XML or JSON, an OAI-PMH error response,
/// an API error entry or empty feed, an unknown format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ReadError {
    /// The input file name as given.
    pub file: String,
    /// What is wrong, with the line or byte where known.
    pub message: String,
}

/// How to read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// Only this version (where the source lists versions); default the latest.
    pub version: Option<u32>,
    /// Every version the source lists, one item each.
    pub all_versions: bool,
    /// License URL for records without one (else they are rejected).
    pub default_license: Option<String>,
}

/// Recognise the format of an input from its content; None when unknown.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if looks_like_record(bytes) {
        return Some(Format::Record);
    }
    formats::detect(bytes)
}

/// Read every record of an input. `file` names it in errors.
pub fn read(
    bytes: &[u8],
    file: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    if opts.format == Some(Format::Record) || (opts.format.is_none() && looks_like_record(bytes)) {
        return read_records(bytes, file);
    }
    match opts.format.or_else(|| formats::detect(bytes)) {
        Some(Format::Snapshot) => formats::read_snapshot(bytes, file, opts),
        Some(Format::Abs) => formats::read_abs(bytes, file, opts),
        Some(Format::Atom) => formats::read_atom(bytes, file, opts),
        Some(Format::OaiArxiv | Format::OaiArxivRaw) => formats::read_oai(bytes, file, opts),
        Some(Format::Record) => read_records(bytes, file),
        None => Err(ReadError {
            file: file.to_owned(),
            message: NO_FORMAT.into(),
        }),
    }
}

/// A JSON object (or the first of JSON lines) with `schema_version`, `source` and
/// `metadata`: a plain canonical record.
fn looks_like_record(bytes: &[u8]) -> bool {
    let first = bytes
        .split(|b| *b == b'\n')
        .find(|l| !l.trim_ascii().is_empty())
        .unwrap_or(bytes);
    match crate::format::canon::parse(first.trim_ascii())
        .or_else(|_| crate::format::canon::parse(bytes))
    {
        Ok(v) => {
            v.get("schema_version").is_some()
                && v.get("source").is_some()
                && v.get("metadata").is_some()
        }
        Err(_) => false,
    }
}

/// Plain canonical records (spec §6): one JSON object, or JSON lines of them; each is
/// checked like the record of a bundle.
fn read_records(bytes: &[u8], file: &str) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    let values: Vec<(String, Result<Value, String>)> = match crate::format::canon::parse(bytes) {
        Ok(v) => vec![("record".to_owned(), Ok(v))],
        Err(whole) => {
            let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
            if lines.iter().filter(|l| !l.trim_ascii().is_empty()).count() < 2 {
                return Err(ReadError {
                    file: file.to_owned(),
                    message: format!("not valid JSON {whole}"),
                });
            }
            lines
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.trim_ascii().is_empty())
                .map(|(n, l)| {
                    (
                        format!("line {}", n + 1),
                        crate::format::canon::parse(l.trim_ascii())
                            .map_err(|e| format!("not valid JSON {e}")),
                    )
                })
                .collect()
        }
    };
    Ok(values
        .into_iter()
        .map(|(pos, v)| record_item(pos, v, file))
        .collect())
}

/// One parsed canonical record, checked like the record of a bundle.
fn record_item(pos: String, v: Result<Value, String>, file: &str) -> Result<Item, Rejected> {
    let rej = |field: String, message: String| Rejected {
        file: file.to_owned(),
        record: pos.clone(),
        field,
        message,
    };
    let v = v.map_err(|m| rej(String::new(), m))?;
    match crate::verify::record(v) {
        Ok(r) => Ok(Item {
            position: pos,
            record: r.into_value(),
            paper: None,
        }),
        Err(f) => Err(rej(
            f.path.clone(),
            format!("expected {}, found {}", f.expected, f.found),
        )),
    }
}

/// One line of a JSON-lines input (a snapshot record or a canonical record), parsed once:
/// the same result as [`read`] on the line alone, without parsing it again to detect its
/// format.
pub fn read_line(
    line: &[u8],
    file: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    let line = line.trim_ascii();
    if !matches!(opts.format, None | Some(Format::Snapshot | Format::Record)) {
        return read(line, file, opts);
    }
    // a line that does not parse takes the general path, which words every such error
    let Ok(v) = crate::format::canon::parse(line) else {
        return read(line, file, opts);
    };
    let record = opts.format == Some(Format::Record)
        || (opts.format.is_none()
            && v.get("schema_version").is_some()
            && v.get("source").is_some()
            && v.get("metadata").is_some());
    if record {
        return Ok(vec![record_item("record".into(), Ok(v), file)]);
    }
    let snapshot = opts.format == Some(Format::Snapshot)
        || (v.get("versions").is_some() && v.get("id").is_some());
    if snapshot && line.first() == Some(&b'{') {
        return Ok(formats::snapshot_record(&v, "line 1", file, opts));
    }
    read(line, file, opts)
}

mod formats;
