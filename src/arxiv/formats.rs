//! Readers for the metadata snapshot (JSON lines), `.abs` files and the arXiv API Atom
//! feed (spec §6).

use chrono::{DateTime, Datelike as _, NaiveDate, Timelike as _, Utc};

use super::{Format, Item, Paper, ReadError, ReadOptions, Rejected, VersionInfo};
use crate::format::canon::{self, Value};
use crate::format::time::Timestamp;

/// Recognise snapshot lines, `.abs` files and Atom feeds.
pub(super) fn detect(bytes: &[u8]) -> Option<Format> {
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    if t.starts_with("------------") && text.contains("\\\\") {
        return Some(Format::Abs);
    }
    if t.starts_with('{') {
        let first = bytes.split(|b| *b == b'\n').next().unwrap_or(bytes);
        if let Ok(v) = canon::parse(first.trim_ascii())
            && v.get("versions").is_some()
            && v.get("id").is_some()
        {
            return Some(Format::Snapshot);
        }
        return None;
    }
    if t.starts_with('<') {
        if text.contains("http://www.w3.org/2005/Atom") && !text.contains("OAI-PMH") {
            return Some(Format::Atom);
        }
        if text.contains("OAI-PMH") {
            if text.contains("arXivRaw") {
                return Some(Format::OaiArxivRaw);
            }
            return Some(Format::OaiArxiv);
        }
    }
    None
}

/// The fields every source gives, before version selection.
struct Raw {
    id: String,
    /// (version, submitted) for every listed version, ascending.
    versions: Vec<(u32, Option<Timestamp>)>,
    /// The first version's submission time, when the source gives it apart from versions.
    first: Option<Timestamp>,
    /// The version named by the source itself (Atom ids), when no list is given.
    named_version: Option<u32>,
    title: String,
    abstract_text: String,
    authors: Vec<String>,
    categories: Vec<String>,
    license: Option<String>,
    withdrawn: bool,
}

fn rej(file: &str, record: &str, field: &str, message: impl Into<String>) -> Rejected {
    Rejected {
        file: file.into(),
        record: record.into(),
        field: field.into(),
        message: message.into(),
    }
}

/// arXiv identifier grammar: `YYMM.NNNN(N)` or `archive(.SC)/YYMMNNN`.
pub(super) fn valid_id(id: &str) -> bool {
    let new = |s: &str| {
        let (a, b) = match s.split_once('.') {
            Some(x) => x,
            None => return false,
        };
        a.len() == 4
            && a.bytes().all(|c| c.is_ascii_digit())
            && (b.len() == 4 || b.len() == 5)
            && b.bytes().all(|c| c.is_ascii_digit())
            && (1..=12).contains(&a[2..].parse::<u32>().unwrap_or(0))
    };
    let old = |s: &str| match s.split_once('/') {
        Some((arch, num)) => {
            let (name, sub) = arch.split_once('.').unwrap_or((arch, ""));
            !name.is_empty()
                && name.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
                && (sub.is_empty()
                    || (sub.len() == 2 && sub.bytes().all(|c| c.is_ascii_uppercase())))
                && num.len() == 7
                && num.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    };
    new(id) || old(id)
}

/// Split `2605.18404v2` into (`2605.18404`, Some(2)).
fn split_version(id: &str) -> (String, Option<u32>) {
    if let Some(i) = id.rfind('v') {
        let (a, b) = (&id[..i], &id[i + 1..]);
        if !b.is_empty()
            && b.bytes().all(|c| c.is_ascii_digit())
            && a.bytes().last().is_some_and(|c| c.is_ascii_digit())
        {
            return (a.to_owned(), b.parse().ok());
        }
    }
    (id.to_owned(), None)
}

/// An RFC 2822 date (`Mon, 2 Apr 2007 19:18:42 GMT`), ISO 8601 or a bare date (midnight UTC).
fn parse_date(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let dt: DateTime<Utc> = if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        d.with_timezone(&Utc)
    } else if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        d.with_timezone(&Utc)
    } else if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)?.and_utc()
    } else {
        return None;
    };
    if (0..=9999).contains(&dt.year()) && dt.nanosecond() < 1_000_000_000 {
        return Some(Timestamp::from_datetime(dt, true));
    }
    Timestamp::parse(&dt.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Dates before arXiv or more than a day in the future are refused.
fn sane(t: &Timestamp) -> bool {
    t.year() >= 1986 && t.micros() <= Timestamp::now().micros() + 86_400_000_000
}

/// Decode the TeX accents arXiv metadata uses in names (`Bal\'azs` → `Balázs`).
pub(super) fn detex(s: &str) -> String {
    if !s.contains(['\\', '{', '}']) {
        return crate::format::digest::nfc(s).into_owned();
    }
    let comb = |c: char| -> Option<char> {
        Some(match c {
            '\'' => '\u{301}',
            '`' => '\u{300}',
            '^' => '\u{302}',
            '"' => '\u{308}',
            '~' => '\u{303}',
            '=' => '\u{304}',
            '.' => '\u{307}',
            'u' => '\u{306}',
            'v' => '\u{30C}',
            'H' => '\u{30B}',
            'c' => '\u{327}',
            'k' => '\u{328}',
            'r' => '\u{30A}',
            _ => return None,
        })
    };
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            if let Some(m) = comb(n) {
                // \'a, \'{a}, \' a, \c{c}; letters accents need a brace or space after them
                let mut j = i + 2;
                if n.is_ascii_alphabetic() && j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                let braced = j < chars.len() && chars[j] == '{';
                if braced {
                    j += 1;
                }
                if j < chars.len()
                    && (chars[j].is_alphabetic() || chars[j] == '\\')
                    && (!n.is_ascii_alphabetic() || braced || chars.get(i + 2) == Some(&' '))
                {
                    let mut base = chars[j];
                    if base == '\\' && chars.get(j + 1) == Some(&'i') {
                        base = 'i';
                        j += 1;
                    }
                    out.push(base);
                    out.push(m);
                    j += 1;
                    if braced && j < chars.len() && chars[j] == '}' {
                        j += 1;
                    }
                    i = j;
                    continue;
                }
            }
            let word: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let rep = match word.as_str() {
                "aa" => Some("å"),
                "AA" => Some("Å"),
                "o" => Some("ø"),
                "O" => Some("Ø"),
                "ss" => Some("ß"),
                "l" => Some("ł"),
                "L" => Some("Ł"),
                "ae" => Some("æ"),
                "AE" => Some("Æ"),
                "oe" => Some("œ"),
                "i" => Some("ı"),
                _ => None,
            };
            if let Some(r) = rep {
                out.push_str(r);
                i += 1 + word.len();
                if chars.get(i) == Some(&' ')
                    || chars.get(i) == Some(&'{') && chars.get(i + 1) == Some(&'}')
                {
                    i += if chars.get(i) == Some(&' ') { 1 } else { 2 };
                }
                continue;
            }
        }
        if c != '{' && c != '}' {
            out.push(c);
        }
        i += 1;
    }
    crate::format::digest::nfc(&out).into_owned()
}

/// Turn a source's fields into items, selecting versions (latest by default).
fn items(raw: Raw, pos: &str, file: &str, opts: &ReadOptions) -> Vec<Result<Item, Rejected>> {
    let who = format!("{pos} ({})", raw.id);
    if !valid_id(&raw.id) {
        return vec![Err(rej(
            file,
            &who,
            "id",
            format!(
                "expected an arXiv id (2605.18404 or hep-th/9901001), found {:?}",
                raw.id
            ),
        ))];
    }
    let first = raw.first.or_else(|| raw.versions.first().and_then(|v| v.1));
    let Some(first) = first else {
        return vec![Err(rej(
            file,
            &who,
            "submitted_at",
            "expected the first version's date, found none",
        ))];
    };
    if !sane(&first) {
        return vec![Err(rej(
            file,
            &who,
            "submitted_at",
            format!("expected a date between 1986 and now, found {first}"),
        ))];
    }
    let license = match raw
        .license
        .clone()
        .filter(|l| !l.trim().is_empty())
        .or_else(|| opts.default_license.clone())
    {
        Some(l) => l.trim().to_owned(),
        None => {
            return vec![Err(rej(file, &who, "license", super::NO_LICENSE))];
        }
    };
    let Some(primary) = raw.categories.first().cloned() else {
        return vec![Err(rej(
            file,
            &who,
            "categories",
            "expected at least one category, found none",
        ))];
    };
    let mut cross: Vec<String> = raw
        .categories
        .iter()
        .skip(1)
        .filter(|c| **c != primary)
        .cloned()
        .collect();
    cross.sort();
    cross.dedup();
    let mut listed: Vec<u32> = raw.versions.iter().map(|v| v.0).collect();
    if listed.is_empty() {
        // a source that states no version (OAI-PMH `arXiv`): never guessed; the operator
        // names it with --version, and it is taken as theirs
        match (raw.named_version, opts.version) {
            (Some(v), _) | (None, Some(v)) => listed.push(v),
            (None, None) => {
                let message = if opts.all_versions {
                    "this format does not list the paper's versions, so --all-versions has none to read: give --version N"
                } else {
                    "this format does not state the paper's version: give --version N"
                };
                return vec![Err(rej(file, &who, "version", message))];
            }
        }
    }
    let chosen: Vec<u32> = match (opts.version, opts.all_versions) {
        (Some(v), _) => {
            if !listed.contains(&v) {
                return vec![Err(rej(
                    file,
                    &who,
                    "version",
                    format!("version {v} is not listed (the source lists {listed:?})"),
                ))];
            }
            vec![v]
        }
        (None, true) => listed.clone(),
        (None, false) => vec![*listed.iter().max().unwrap_or(&1)],
    };
    let versions: Vec<VersionInfo> = if raw.versions.is_empty() {
        listed
            .iter()
            .map(|v| VersionInfo {
                version: *v,
                submitted: (*v == 1).then_some(first),
            })
            .collect()
    } else {
        raw.versions
            .iter()
            .map(|(v, t)| VersionInfo {
                version: *v,
                submitted: *t,
            })
            .collect()
    };
    chosen
        .into_iter()
        .map(|version| {
            let record = canon::object([
                (
                    "source",
                    canon::object([
                        ("kind", "arxiv".into()),
                        ("id", raw.id.as_str().into()),
                        ("version", Value::Int(i128::from(version))),
                    ]),
                ),
                (
                    "metadata",
                    canon::object([
                        ("license", license.as_str().into()),
                        ("primary_cat", primary.as_str().into()),
                        ("submitted_at", first.fmt_seconds().into()),
                        (
                            "cross_cats_sorted",
                            Value::Array(cross.iter().map(|c| c.as_str().into()).collect()),
                        ),
                        (
                            "title_canon_sha256",
                            crate::format::digest::text_canon_sha256(&raw.title).into(),
                        ),
                        (
                            "abstract_canon_sha256",
                            crate::format::digest::text_canon_sha256(&raw.abstract_text).into(),
                        ),
                    ]),
                ),
                (
                    "schema_version",
                    crate::format::rules::SCHEMA_VERSION.into(),
                ),
            ]);
            let paper = Paper {
                id: raw.id.clone(),
                version,
                versions: versions.clone(),
                submitted_at: first,
                title: raw.title.clone(),
                abstract_text: raw.abstract_text.clone(),
                authors: raw.authors.clone(),
                primary_cat: primary.clone(),
                cross_cats_sorted: cross.clone(),
                license: Some(license.clone()),
                withdrawn: raw.withdrawn,
            };
            Ok(Item {
                position: format!("{pos} ({}v{version})", raw.id),
                record,
                paper: Some(paper),
            })
        })
        .collect()
}

fn is_withdrawn(comments: &str, abstract_text: &str) -> bool {
    // ASCII words: the full lower-casing is only needed where a text is not ASCII
    fn lower(s: &str) -> std::borrow::Cow<'_, str> {
        if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            std::borrow::Cow::Owned(s.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    }
    let head: &str = {
        let t = abstract_text.trim_start();
        // the longest phrase tested is 31 bytes; lower-case only a prefix (on a char boundary)
        let mut end = t.len().min(64);
        while !t.is_char_boundary(end) {
            end += 1;
        }
        &t[..end]
    };
    let a = lower(head);
    lower(comments).contains("withdrawn")
        || a.starts_with("this paper has been withdrawn")
        || a.starts_with("this article has been withdrawn")
        || a.starts_with("withdrawn")
}

/// The metadata snapshot: one JSON object per line.
pub(super) fn read_snapshot(
    bytes: &[u8],
    file: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    let mut out = Vec::new();
    let mut any = false;
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        any = true;
        let pos = format!("line {}", n + 1);
        let v = match canon::parse(line.trim_ascii()) {
            Ok(v) => v,
            Err(e) => {
                out.push(Err(rej(file, &pos, "", format!("not valid JSON {e}"))));
                continue;
            }
        };
        out.extend(snapshot_record(&v, &pos, file, opts));
    }
    if !any {
        return Err(ReadError {
            file: file.into(),
            message: "empty input: no snapshot records".into(),
        });
    }
    Ok(out)
}

pub(super) fn snapshot_record(
    v: &Value,
    pos: &str,
    file: &str,
    opts: &ReadOptions,
) -> Vec<Result<Item, Rejected>> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let Some(id) = s("id") else {
        return vec![Err(rej(
            file,
            pos,
            "id",
            "expected the arXiv id (a string)",
        ))];
    };
    let who = format!("{pos} ({id})");
    for k in ["title", "abstract", "categories"] {
        if s(k).is_none() {
            return vec![Err(rej(file, &who, k, "expected a string"))];
        }
    }
    let mut versions = Vec::new();
    for (i, ver) in v
        .get("versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let num = ver
            .get("version")
            .and_then(Value::as_str)
            .and_then(|x| x.strip_prefix('v'))
            .and_then(|x| x.parse::<u32>().ok());
        let created = ver.get("created").and_then(Value::as_str);
        match (num, created.map(parse_date)) {
            (Some(n), Some(Some(t))) => versions.push((n, Some(t))),
            _ => {
                return vec![Err(rej(
                    file,
                    &who,
                    &format!("versions[{i}]"),
                    format!(
                        "expected {{\"version\": \"vN\", \"created\": RFC 2822 date}}, found {}",
                        ver.brief()
                    ),
                ))];
            }
        }
    }
    if versions.is_empty() {
        return vec![Err(rej(
            file,
            &who,
            "versions",
            "expected at least one version",
        ))];
    }
    let authors: Vec<String> = match v.get("authors_parsed").and_then(Value::as_array) {
        Some(ap) => ap
            .iter()
            .filter_map(|p| {
                let parts: Vec<&str> = p.as_array()?.iter().filter_map(Value::as_str).collect();
                let (last, first, suffix) = (
                    parts.first().copied().unwrap_or(""),
                    parts.get(1).copied().unwrap_or(""),
                    parts.get(2).copied().unwrap_or(""),
                );
                let name = [first, last, suffix]
                    .iter()
                    .filter(|x| !x.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(detex(&name))
            })
            .collect(),
        None => s("authors")
            .map(|a| a.split(", ").map(detex).collect())
            .unwrap_or_default(),
    };
    let raw = Raw {
        id: id.to_owned(),
        versions,
        first: None,
        named_version: None,
        title: s("title").unwrap_or_default().to_owned(),
        abstract_text: s("abstract").unwrap_or_default().to_owned(),
        authors,
        categories: s("categories")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        license: s("license").map(str::to_owned),
        withdrawn: is_withdrawn(s("comments").unwrap_or(""), s("abstract").unwrap_or("")),
    };
    items(raw, pos, file, opts)
}

/// An arXiv `.abs` file.
pub(super) fn read_abs(
    bytes: &[u8],
    file: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ReadError {
        file: file.into(),
        message: format!("not UTF-8 at byte {}", e.valid_up_to()),
    })?;
    let parts: Vec<&str> = text.split("\n\\\\\n").collect();
    if parts.len() < 3 {
        return Err(ReadError {
            file: file.into(),
            message: "not an .abs file: expected a header and an abstract between \\\\ lines"
                .into(),
        });
    }
    let header = parts[1];
    let abstract_text = parts[2].trim_end_matches("\\\\").trim().to_owned();
    // header fields, with continuation lines (leading spaces) joined
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in header.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(": ") {
            fields.push((k.trim().to_owned(), v.trim().to_owned()));
        } else if let Some(id) = line.strip_prefix("arXiv:") {
            fields.push(("arXiv".into(), id.trim().to_owned()));
        } else if line.starts_with("Paper:") {
            fields.push((
                "arXiv".into(),
                line.trim_start_matches("Paper:").trim().to_owned(),
            ));
        }
    }
    let get = |k: &str| {
        fields
            .iter()
            .find(|f| f.0.eq_ignore_ascii_case(k))
            .map(|f| f.1.clone())
    };
    let pos = "abs";
    let Some(id) = get("arXiv") else {
        return Ok(vec![Err(rej(
            file,
            pos,
            "arXiv",
            "expected the arXiv:ID line",
        ))]);
    };
    let (id, _) = split_version(&id);
    let mut versions = Vec::new();
    for (k, v) in &fields {
        let date = v.split("   (").next().unwrap_or(v).trim();
        if k == "Date" {
            match parse_date(date) {
                Some(t) => versions.push((1, Some(t))),
                None => {
                    return Ok(vec![Err(rej(
                        file,
                        &id,
                        "Date",
                        format!("expected an RFC 2822 date, found {date:?}"),
                    ))]);
                }
            }
        } else if let Some(n) = k
            .strip_prefix("Date (revised v")
            .and_then(|x| x.strip_suffix(')'))
        {
            match (n.parse::<u32>(), parse_date(date)) {
                (Ok(n), Some(t)) => versions.push((n, Some(t))),
                _ => {
                    return Ok(vec![Err(rej(
                        file,
                        &id,
                        k,
                        format!("expected an RFC 2822 date, found {date:?}"),
                    ))]);
                }
            }
        }
    }
    versions.sort_by_key(|v| v.0);
    let last_size_zero = fields
        .iter()
        .rev()
        .find(|(k, _)| k.starts_with("Date"))
        .is_some_and(|(_, v)| v.contains("(0kb"));
    let comments = get("Comments").unwrap_or_default();
    let raw = Raw {
        id: id.clone(),
        versions,
        first: None,
        named_version: None,
        title: get("Title").unwrap_or_default(),
        abstract_text: abstract_text.clone(),
        authors: get("Authors")
            .map(|a| split_authors(&a))
            .unwrap_or_default(),
        categories: get("Categories")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        license: get("License"),
        withdrawn: is_withdrawn(&comments, &abstract_text)
            || (last_size_zero && comments.to_lowercase().contains("withdraw")),
    };
    Ok(items(raw, pos, file, opts))
}

/// "A, B and C" → [A, B, C], TeX accents decoded.
fn split_authors(s: &str) -> Vec<String> {
    s.replace(" and ", ", ")
        .split(',')
        .map(|a| detex(a.trim()))
        .filter(|a| !a.is_empty())
        .collect()
}

/// The arXiv API Atom feed (2016 and 2026 shapes).
pub(super) fn read_atom(
    bytes: &[u8],
    file: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(bytes);
    r.config_mut().trim_text(false);
    r.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut entries: Vec<BTreeEntry> = Vec::new();
    let mut cur: Option<BTreeEntry> = None;
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let ev = r.read_event_into(&mut buf).map_err(|e| ReadError {
            file: file.into(),
            message: format!("malformed XML at byte {}: {e}", r.buffer_position()),
        })?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "entry" {
                    cur = Some(BTreeEntry::default());
                }
                if let Some(c) = cur.as_mut() {
                    collect_attrs(c, &name, &e);
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some(c) = cur.as_mut() {
                    collect_attrs(c, &name, &e);
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| ReadError {
                    file: file.into(),
                    message: format!("malformed XML text at byte {}: {e}", r.buffer_position()),
                })?;
                text.push_str(&s);
            }
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str).unwrap_or("");
                if let Some(c) = cur.as_mut() {
                    let v = text.trim().to_owned();
                    match (parent, name.as_str()) {
                        ("entry", "id") => c.id = v,
                        ("entry", "title") => c.title = text.clone(),
                        ("entry", "summary") => c.summary = text.clone(),
                        ("entry", "published") => c.published = v,
                        ("author", "name") => c.authors.push(v),
                        ("entry", "comment") => c.comment = v,
                        _ => {}
                    }
                }
                if name == "entry"
                    && let Some(c) = cur.take()
                {
                    entries.push(c);
                }
                text.clear();
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(ReadError {
                        file: file.into(),
                        message: format!(
                            "malformed XML at byte {}: input ends inside <{open}>",
                            r.buffer_position()
                        ),
                    });
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    if entries.is_empty() {
        return Err(ReadError {
            file: file.into(),
            message: "empty feed: no entry (the API answers unknown ids this way)".into(),
        });
    }
    let mut out = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let pos = format!("entry {}", i + 1);
        if e.title.trim() == "Error" {
            let msg = e.summary.trim().to_owned();
            if out.is_empty() && i == 0 {
                return Err(ReadError {
                    file: file.into(),
                    message: format!("the arXiv API answered with an error entry: {msg}"),
                });
            }
            out.push(Err(rej(
                file,
                &pos,
                "entry",
                format!("API error entry: {msg}"),
            )));
            continue;
        }
        let tail = e.id.rsplit_once("/abs/").map_or(e.id.as_str(), |x| x.1);
        let (id, named) = split_version(tail);
        if named == Some(0) {
            // arXiv versions start at 1; the canonical record refuses 0 (spec §6)
            out.push(Err(rej(
                file,
                &format!("{pos} ({id})"),
                "id",
                format!("expected a version of at least 1, found {tail:?}"),
            )));
            continue;
        }
        let Some(published) = parse_date(&e.published) else {
            out.push(Err(rej(
                file,
                &format!("{pos} ({id})"),
                "published",
                format!("expected an ISO 8601 date, found {:?}", e.published),
            )));
            continue;
        };
        let mut cats = Vec::new();
        if let Some(p) = &e.primary {
            cats.push(p.clone());
        }
        cats.extend(
            e.categories
                .iter()
                .filter(|c| Some(*c) != e.primary.as_ref())
                .cloned(),
        );
        let raw = Raw {
            id,
            versions: Vec::new(),
            first: Some(published),
            named_version: named,
            title: e.title.clone(),
            abstract_text: e.summary.clone(),
            authors: e.authors.clone(),
            categories: cats,
            license: e.license.clone(),
            withdrawn: is_withdrawn(&e.comment, &e.summary),
        };
        out.extend(items(raw, &pos, file, opts));
    }
    Ok(out)
}

#[derive(Default)]
struct BTreeEntry {
    id: String,
    title: String,
    summary: String,
    published: String,
    authors: Vec<String>,
    primary: Option<String>,
    categories: Vec<String>,
    license: Option<String>,
    comment: String,
}

fn collect_attrs(c: &mut BTreeEntry, name: &str, e: &quick_xml::events::BytesStart<'_>) {
    let attr = |k: &str| {
        e.attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == k.as_bytes())
            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
    };
    match name {
        "primary_category" => c.primary = attr("term"),
        "category" => {
            if let Some(t) = attr("term") {
                c.categories.push(t);
            }
        }
        "link" if attr("rel").as_deref() == Some("license") => c.license = attr("href"),
        "license" => c.license = attr("href").or(c.license.take()),
        _ => {}
    }
}

/// One OAI-PMH record's metadata, as collected.
#[derive(Default)]
struct OaiRec {
    id: String,
    created: String,
    title: String,
    abstract_text: String,
    categories: String,
    license: String,
    comments: String,
    authors_text: String,
    authors: Vec<String>,
    keyname: String,
    forenames: String,
    versions: Vec<(String, String)>,
    cur_version: Option<String>,
    deleted: bool,
}

/// OAI-PMH `arXiv` and `arXivRaw` responses: GetRecord or ListRecords pages.
///
/// **decided**: the `arXiv` format lists no versions; a record is version 1 unless
/// `--version N` names another, and `submitted_at` is midnight UTC of its `created` date.
pub(super) fn read_oai(
    bytes: &[u8],
    file: &str,
    opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(bytes);
    r.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut recs: Vec<OaiRec> = Vec::new();
    let mut cur: Option<OaiRec> = None;
    let mut error: Option<(String, String)> = None;
    let mut error_code = String::new();
    loop {
        let ev = r.read_event_into(&mut buf).map_err(|e| ReadError {
            file: file.into(),
            message: format!("malformed XML at byte {}: {e}", r.buffer_position()),
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let attr = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == k.as_bytes())
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                };
                match name.as_str() {
                    "record" => cur = Some(OaiRec::default()),
                    "header" if attr("status").as_deref() == Some("deleted") => {
                        if let Some(c) = cur.as_mut() {
                            c.deleted = true;
                        }
                    }
                    "version" => {
                        if let Some(c) = cur.as_mut() {
                            c.cur_version = attr("version");
                        }
                    }
                    "error" => error_code = attr("code").unwrap_or_default(),
                    _ => {}
                }
                if !empty {
                    path.push(name);
                }
                text.clear();
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| ReadError {
                    file: file.into(),
                    message: format!("malformed XML text at byte {}: {e}", r.buffer_position()),
                })?;
                text.push_str(&s);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let v = text.clone();
                if name == "error" {
                    error = Some((error_code.clone(), v.trim().to_owned()));
                }
                if let Some(c) = cur.as_mut() {
                    let in_meta = path.iter().any(|p| p == "metadata");
                    match name.as_str() {
                        "id" if in_meta => c.id = v.trim().to_owned(),
                        "created" if in_meta => c.created = v.trim().to_owned(),
                        "title" if in_meta => c.title = v,
                        "abstract" if in_meta => c.abstract_text = v,
                        "categories" if in_meta => c.categories = v,
                        "license" if in_meta => c.license = v.trim().to_owned(),
                        "comments" if in_meta => c.comments = v,
                        "keyname" => c.keyname = v.trim().to_owned(),
                        "forenames" => c.forenames = v.trim().to_owned(),
                        "author" => {
                            let n = [c.forenames.as_str(), c.keyname.as_str()]
                                .iter()
                                .filter(|x| !x.is_empty())
                                .copied()
                                .collect::<Vec<_>>()
                                .join(" ");
                            c.authors.push(detex(&n));
                            c.keyname.clear();
                            c.forenames.clear();
                        }
                        "authors" if in_meta && c.authors.is_empty() => c.authors_text = v,
                        "date" => {
                            if let Some(ver) = c.cur_version.clone() {
                                c.versions.push((ver, v.trim().to_owned()));
                            }
                        }
                        "record" => {}
                        _ => {}
                    }
                }
                if name == "record"
                    && let Some(c) = cur.take()
                {
                    recs.push(c);
                }
                text.clear();
            }
            Event::Eof => {
                if let Some(open) = path.last() {
                    return Err(ReadError {
                        file: file.into(),
                        message: format!(
                            "malformed XML at byte {}: input ends inside <{open}>",
                            r.buffer_position()
                        ),
                    });
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    if let Some((code, msg)) = error {
        return Err(ReadError {
            file: file.into(),
            message: format!("OAI-PMH error {code}: {msg}"),
        });
    }
    if recs.is_empty() {
        return Err(ReadError {
            file: file.into(),
            message: "no OAI-PMH record in the response".into(),
        });
    }
    let mut out = Vec::new();
    for (i, c) in recs.into_iter().enumerate() {
        let pos = format!("record {}", i + 1);
        if c.deleted {
            out.push(Err(rej(file, &pos, "header", "deleted record")));
            continue;
        }
        let mut versions = Vec::new();
        let mut bad = None;
        for (v, d) in &c.versions {
            match (
                v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()),
                parse_date(d),
            ) {
                (Some(n), Some(t)) => versions.push((n, Some(t))),
                _ => {
                    bad = Some(format!(
                        "expected version vN with an RFC 2822 date, found {v} {d:?}"
                    ))
                }
            }
        }
        if let Some(m) = bad {
            out.push(Err(rej(file, &format!("{pos} ({})", c.id), "version", m)));
            continue;
        }
        versions.sort_by_key(|v| v.0);
        let first = if versions.is_empty() {
            match parse_date(&c.created) {
                Some(t) => Some(t),
                None => {
                    out.push(Err(rej(
                        file,
                        &format!("{pos} ({})", c.id),
                        "created",
                        format!("expected a date, found {:?}", c.created),
                    )));
                    continue;
                }
            }
        } else {
            None
        };
        let authors = if c.authors.is_empty() {
            split_authors(
                &c.authors_text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        } else {
            c.authors
        };
        let raw = Raw {
            id: c.id,
            versions,
            first,
            named_version: opts.version,
            title: c.title,
            abstract_text: c.abstract_text.clone(),
            authors,
            categories: c.categories.split_whitespace().map(str::to_owned).collect(),
            license: (!c.license.is_empty()).then_some(c.license),
            withdrawn: is_withdrawn(&c.comments, &c.abstract_text),
        };
        out.extend(items(raw, &pos, file, opts));
    }
    Ok(out)
}
