//! Verifying artifacts with the operator's keyring (spec §12).
//!
//! [`verify_value`] recognises a bundle, a state, an event, a standalone receipt, or a key
//! document, and runs every check of spec §12 through [`crate::verify::check`].

use crate::format::canon::{self, Value};
use crate::format::digest::{canon_sha256_without, code26, links, mirror_hint, source_aliases};
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::trust::keys::KeyDocument;
use crate::verify::check::{Checker, Finding, RecordFacts, q, show};
use crate::verify::keyring::Keyring;

pub mod audit;
pub mod check;
pub mod checkpoint;
pub mod keyring;
pub mod log;
pub mod merge;
pub mod statements;

/// What kind of artifact a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    /// A signed bundle (spec §11).
    Bundle,
    /// A state (spec §10).
    State,
    /// One event (spec §9).
    Event,
    /// A standalone receipt (spec §8).
    Receipt,
    /// A public key document (spec §7).
    KeyDocument,
    /// A key-transition statement.
    KeyTransition,
    /// A key revocation statement.
    KeyRevocation,
    /// A ceremony transcript or signer audit log (JSON lines, hash-chained).
    Transcript,
}

impl Kind {
    /// The name with its article, for messages: "a bundle", "an event".
    pub fn a(&self) -> String {
        let n = self.name();
        let article = if n.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {n}")
    }

    /// Human name.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Bundle => "bundle",
            Kind::State => "state",
            Kind::Event => "event",
            Kind::Receipt => "receipt",
            Kind::KeyDocument => "key document",
            Kind::KeyTransition => "key-transition statement",
            Kind::KeyRevocation => "key revocation",
            Kind::Transcript => "transcript",
        }
    }
}

/// The outcome of verifying one artifact.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// What was verified.
    pub kind: Kind,
    /// The Pith number it is about, when it has one.
    pub pith_number: Option<String>,
    /// Failed checks; empty means verified.
    pub failures: Vec<Finding>,
    /// Warnings: unauthenticated fields that disagree, untrusted carried keys.
    pub warnings: Vec<Finding>,
    /// Notes: observed, needing no attention (see `check::Checker::notes`).
    pub notes: Vec<Finding>,
    /// For a transcript: its entry count and head (the SHA-256 of its last line's
    /// canonical bytes, what the next entry chains to), for the custodians' paper log.
    pub log: Option<LogHead>,
}

/// Where a hash-chained log stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogHead {
    /// Entries.
    pub entries: usize,
    /// `sha256:` + hex of the last entry's canonical bytes.
    pub head: String,
}

/// The head of a log of `entries`.
pub fn log_head(entries: &[Value]) -> LogHead {
    LogHead {
        entries: entries.len(),
        head: entries.last().map_or_else(String::new, |e| {
            format!(
                "sha256:{}",
                crate::format::digest::sha256(&canon::to_canonical(e)).hex()
            )
        }),
    }
}

impl Report {
    /// Did every check pass?
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Not recognisable as any artifact.
#[derive(Debug, thiserror::Error)]
#[error("not a pith artifact: expected a bundle, state, event, receipt or key document ({0})")]
pub struct UnknownArtifact(pub String);

/// Recognise what a value is.
pub fn detect(v: &Value) -> Result<Kind, UnknownArtifact> {
    let Some(m) = v.as_object() else {
        return Err(UnknownArtifact(format!(
            "the top level is {}",
            v.type_name()
        )));
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str);
    let has = |ks: &[&str]| ks.iter().any(|k| m.contains_key(*k));
    // several members mark each kind, so one renamed member still gets the artifact
    // verified (and failed) as what it is rather than refused as unknown
    Ok(
        if has(&["bundle_type", "bundle_signature", "bundle_version"]) {
            Kind::Bundle
        } else if has(&["state_type", "state_sha256", "applied_event_ids"]) {
            Kind::State
        } else if has(&["event_type", "event_id", "content_sha256"]) {
            Kind::Event
        } else if s("kind") == Some(rules::RECEIPT_KIND) || has(&["receipt_version"]) {
            Kind::Receipt
        } else if s("statement_type") == Some(crate::trust::statements::TRANSITION_TYPE) {
            Kind::KeyTransition
        } else if s("statement_type") == Some(crate::trust::statements::REVOCATION_TYPE) {
            Kind::KeyRevocation
        } else if has(&["transcript_version", "entry_sha256"]) {
            Kind::Transcript
        } else if has(&["public_key_b64", "public_key_hex", "fingerprint_sha256_hex"]) {
            Kind::KeyDocument
        } else {
            return Err(UnknownArtifact(
                "no bundle_type, state_type, event_type, receipt kind or public_key_b64 member"
                    .into(),
            ));
        },
    )
}

/// What a JSON value is, for a message refusing it where another kind was expected:
/// "a bundle", "a signing response", or "JSON of no kind pith knows".
pub fn describe(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    if s("request_type") == Some(crate::sign::offline::REQUEST_TYPE) {
        return "a signing request".into();
    }
    if s("response_type") == Some(crate::sign::offline::RESPONSE_TYPE) {
        return "a signing response".into();
    }
    match detect(v) {
        Ok(k) => k.a(),
        Err(_) => "JSON of no kind pith knows".into(),
    }
}

/// Verify a parsed artifact. `record` is the canonical record a standalone receipt covers.
pub fn verify_value(
    v: &Value,
    keyring: &Keyring,
    record: Option<&Value>,
) -> Result<Report, UnknownArtifact> {
    let kind = detect(v)?;
    let mut ck = Checker::new(Some(keyring));
    let number = match kind {
        Kind::Bundle => bundle(&mut ck, v),
        Kind::State => state(&mut ck, v),
        Kind::Event => check::event(&mut ck, v, "$", None).and_then(|_| {
            v.get("subject_pith_number")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
        Kind::Receipt => receipt(&mut ck, v, record),
        Kind::KeyDocument => {
            key_document(&mut ck, v, keyring);
            None
        }
        Kind::KeyTransition | Kind::KeyRevocation => {
            crate::verify::statements::check_statement(&mut ck, v, keyring);
            None
        }
        Kind::Transcript => {
            let one = std::slice::from_ref(v);
            crate::verify::statements::check_transcript(&mut ck, one, log_domain(one), &|_| {
                "$".to_owned()
            });
            None
        }
    };
    Ok(Report {
        kind,
        pith_number: number,
        failures: ck.failures,
        warnings: ck.warnings,
        notes: ck.notes,
        log: None,
    })
}

/// An artifact the one verification path accepted against the operator's keyring.
///
/// Only this module makes one, so whatever takes a `Verified<T>` (publishing, applying,
/// recording) cannot be handed an unverified value:
///
/// ```compile_fail
/// let v = pith::format::canon::parse(b"{}").unwrap();
/// let forged = pith::verify::Verified(v); // the field is private
/// ```
#[derive(Clone, Debug)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// The verified artifact.
    pub fn get(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Verify `v` as a signed bundle: the bundle, or the report of why it is not one.
pub fn verify_bundle(
    v: Value,
    keyring: &Keyring,
) -> Result<Verified<crate::model::Bundle>, Box<Report>> {
    let r = match verify_value(&v, keyring, None) {
        Ok(r) => r,
        Err(UnknownArtifact(what)) => return Err(Box::new(not_a(Kind::Bundle, what))),
    };
    if r.kind != Kind::Bundle {
        let found = r.kind.a();
        return Err(Box::new(not_a(Kind::Bundle, found)));
    }
    if !r.ok() {
        return Err(Box::new(r));
    }
    let number = r
        .pith_number
        .as_deref()
        .and_then(crate::format::digest::PithNumber::parse);
    let built = v
        .get("built_at")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse);
    let signer = v
        .get("bundle_signature")
        .and_then(|s| s.get("public_key_fingerprint"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let ids = v
        .get("events")
        .and_then(Value::as_array)
        .map(|evs| {
            evs.iter()
                .filter_map(|e| e.get("event_id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    match (number, built, signer) {
        (Some(n), Some(b), Some(s)) => Ok(Verified(crate::model::Bundle::new(v, n, b, s, ids))),
        _ => Err(Box::new(not_a(
            Kind::Bundle,
            "a bundle without its number, time or signer".into(),
        ))),
    }
}

/// Check `v` as a canonical record (spec §6): the typed record, or the first finding.
///
/// A record is not signed; this is the one shape check every reader, issuer and bundle
/// assembly uses.
pub fn record(v: Value) -> Result<crate::model::Record, Finding> {
    let mut ck = Checker::new(None);
    match check::record(&mut ck, Some(&v), "$") {
        Some(f) if ck.ok() => Ok(crate::model::Record::new(v, f)),
        _ => Err(ck.failures.into_iter().next().unwrap_or_else(|| Finding {
            path: "$".into(),
            expected: "a canonical record".into(),
            found: v.brief(),
            code: "malformed",
        })),
    }
}

/// Verify `v` as a standalone receipt over `record`: the receipt, or the report of why
/// it is not one.
pub fn verify_receipt(
    v: Value,
    record: &crate::model::Record,
    keyring: &Keyring,
) -> Result<Verified<crate::model::Receipt>, Box<Report>> {
    let r = match verify_value(&v, keyring, Some(record.value())) {
        Ok(r) => r,
        Err(UnknownArtifact(what)) => return Err(Box::new(not_a(Kind::Receipt, what))),
    };
    if r.kind != Kind::Receipt {
        let found = r.kind.a();
        return Err(Box::new(not_a(Kind::Receipt, found)));
    }
    if !r.ok() {
        return Err(Box::new(r));
    }
    let ts = |k: &str| v.get(k).and_then(Value::as_str).and_then(Timestamp::parse);
    let signer = v
        .get("public_key_fingerprint")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (ts("first_computed_at"), ts("last_reissued_at"), signer) {
        (Some(f), Some(l), Some(s)) => Ok(Verified(crate::model::Receipt::new(
            v,
            *record.sha256(),
            f,
            l,
            s,
        ))),
        _ => Err(Box::new(not_a(
            Kind::Receipt,
            "a receipt without its times or signer".into(),
        ))),
    }
}

/// Verify `v` as a signed event: the event, or the report of why it is not one.
pub fn verify_event(
    v: Value,
    keyring: &Keyring,
) -> Result<Verified<crate::model::Event>, Box<Report>> {
    // another kind of artifact is named as such, not checked member by member as an event
    if let Ok(k) = detect(&v)
        && k != Kind::Event
    {
        return Err(Box::new(not_a(Kind::Event, k.a())));
    }
    let mut ck = Checker::new(Some(keyring));
    let facts = check::event(&mut ck, &v, "$", None);
    let subject = v
        .get("subject_pith_number")
        .and_then(Value::as_str)
        .and_then(crate::format::digest::PithNumber::parse);
    let report = |ck: Checker<'_>| Report {
        kind: Kind::Event,
        pith_number: subject.as_ref().map(ToString::to_string),
        failures: ck.failures,
        warnings: ck.warnings,
        notes: ck.notes,
        log: None,
    };
    match (facts, subject.clone()) {
        (Some(f), Some(n)) if ck.ok() => match rules::EventType::parse(&f.event_type) {
            Some(et) => Ok(Verified(crate::model::Event::new(v, et, f.event_id, n))),
            None => Err(Box::new(report(ck))),
        },
        _ => Err(Box::new(report(ck))),
    }
}

fn not_a(kind: Kind, found: String) -> Report {
    Report {
        kind,
        pith_number: None,
        failures: vec![Finding {
            path: "$".into(),
            expected: kind.a(),
            found,
            code: "wrong_kind",
        }],
        warnings: Vec::new(),
        notes: Vec::new(),
        log: None,
    }
}

/// Which log `entries` claim to be: the offline signer's audit log when the first entry's
/// signature says so, else a ceremony transcript. Every entry's signature must then be of
/// that kind, and the kind is in the signed bytes, so the claim cannot be switched.
fn log_domain(entries: &[Value]) -> crate::trust::signer::Domain {
    use crate::trust::signer::Domain;
    let label = entries
        .first()
        .and_then(|e| e.get("signature"))
        .and_then(|s| s.get("signed_message"))
        .and_then(Value::as_str);
    if label == Some(Domain::Audit.label()) {
        Domain::Audit
    } else {
        Domain::Transcript
    }
}

/// Verify a ceremony transcript or signer audit log given as its lines (JSON lines file).
///
/// A ceremony transcript must also account for its keyring (decided): every statement in
/// the keyring needs the entry that made it (by `statement_sha256`), and every key whose
/// secret file lies beside its document needs the entry that generated or imported it —
/// so a transcript cut short (a last revocation dropped) fails. `expect` is what the
/// custodians' paper log says (entry count, head hash).
pub fn verify_transcript(entries: &[Value], keyring: &Keyring) -> Report {
    verify_transcript_expecting(entries, keyring, &Expect::default())
}

/// Check the offline signer's audit log before it is shown: that it is one (its entries
/// signed as audit entries, not a ceremony transcript's), its chain (`seq`,
/// `prev_sha256`, `entry_sha256`, closed entries), and, given a keyring, its signatures.
/// Without a keyring the chain can be checked but not who made it.
pub fn audit_log(entries: &[Value], keyring: Option<&Keyring>) -> Report {
    use crate::trust::signer::Domain;
    let history = keyring.map(Keyring::with_retired);
    let mut ck = Checker::new(history.as_ref());
    if !entries.is_empty() && log_domain(entries) != Domain::Audit {
        ck.fail(
            "wrong_kind",
            "line 1",
            "a signer audit log (entries signed as audit entries)",
            "a ceremony transcript",
        );
    } else {
        crate::verify::statements::check_transcript(&mut ck, entries, Domain::Audit, &|i| {
            format!("line {}", i + 1)
        });
    }
    transcript_report(ck, log_head(entries))
}

/// The report on a log (transcript or audit log) from its checks and its head.
fn transcript_report(ck: Checker<'_>, head: LogHead) -> Report {
    Report {
        kind: Kind::Transcript,
        pith_number: None,
        failures: ck.failures,
        warnings: ck.warnings,
        notes: ck.notes,
        log: Some(head),
    }
}

/// What a log must show: the entry count and head the custodians wrote down.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// `--expect-entries N`.
    pub entries: Option<usize>,
    /// `--expect-head sha256:…`.
    pub head: Option<String>,
}

/// [`verify_transcript`], also checking the log against `expect`.
pub fn verify_transcript_expecting(
    entries: &[Value],
    keyring: &Keyring,
    expect: &Expect,
) -> Report {
    // entries signed by keys since replaced (kept in retired/) still verify
    let history = keyring.with_retired();
    let mut ck = Checker::new(Some(&history));
    let domain = log_domain(entries);
    crate::verify::statements::check_transcript(&mut ck, entries, domain, &|i| {
        format!("line {}", i + 1)
    });
    let head = log_head(entries);
    if domain == crate::trust::signer::Domain::Transcript {
        let detail = |e: &Value, k: &str| {
            e.get("details")
                .and_then(|d| d.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let made: std::collections::HashSet<String> = entries
            .iter()
            .filter_map(|e| detail(e, "statement_sha256"))
            .collect();
        for (file, digest) in keyring.statements() {
            if !made.contains(digest) {
                ck.fail(
                    "missing_entry",
                    file.display().to_string(),
                    "a transcript entry for this statement (the transcript may be cut short)",
                    format!("none with statement_sha256 {digest}"),
                );
            }
        }
        let keys: std::collections::HashSet<String> = entries
            .iter()
            .filter(|e| e.get("op").and_then(Value::as_str) == Some("generate"))
            .filter_map(|e| {
                e.get("details")?
                    .get("key")?
                    .get("public_key_fingerprint")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        for k in keyring.iter() {
            let secret = k.file.with_file_name(format!("{}.key.age", k.doc.key_id));
            if secret.exists() && !keys.contains(k.doc.key.fingerprint()) {
                ck.fail(
                    "missing_entry",
                    k.file.display().to_string(),
                    "the transcript entry that generated or imported this key",
                    "none".to_owned(),
                );
            }
        }
    }
    if let Some(n) = expect.entries
        && n != head.entries
    {
        ck.fail(
            "log_mismatch",
            "$",
            format!("{n} entries (the paper log)"),
            format!("{} entries", head.entries),
        );
    }
    if let Some(h) = &expect.head
        && *h != head.head
    {
        ck.fail(
            "log_mismatch",
            "$",
            format!("head {h} (the paper log)"),
            format!("head {}", head.head),
        );
    }
    transcript_report(ck, head)
}

fn key_document(ck: &mut Checker<'_>, v: &Value, keyring: &Keyring) {
    match KeyDocument::from_value(v, "$") {
        Err(ps) => ps
            .into_iter()
            .for_each(|p| ck.fail("bad_key_document", p.path, p.expected, p.found)),
        Ok(doc) => match keyring.get(doc.key.fingerprint()) {
            None => ck.fail(
                "unknown_key",
                "$.public_key_b64",
                "a key in the keyring",
                format!("key {} ({})", q(&doc.key_id), doc.key.fingerprint()),
            ),
            Some(k) => {
                if k.doc.key_id != doc.key_id {
                    ck.fail("mismatch", "$.key_id", q(&k.doc.key_id), q(&doc.key_id));
                }
                if k.doc.rotates_at != doc.rotates_at {
                    ck.warn(
                        "stale_key_document",
                        "$.rotates_at",
                        show(k.doc.raw.get("rotates_at")),
                        show(v.get("rotates_at")),
                    );
                }
            }
        },
    }
}

fn receipt(ck: &mut Checker<'_>, v: &Value, record: Option<&Value>) -> Option<String> {
    let m = v.as_object()?;
    let csha = ck.digest(m, "$", "canonical_sha256")?;
    let mut number = None;
    if let Some(rec) = record
        && let Some(f) = check::record(ck, Some(rec), "record")
    {
        if f.sha256 != csha {
            ck.fail(
                "bad_hash",
                "$.canonical_sha256",
                format!("{} (the digest of the record given)", f.sha256.hex()),
                csha.hex(),
            );
        }
        number = Some(f.number.to_string());
    }
    check::receipt(ck, Some(v), "$", &csha, None);
    number
}

fn bundle(ck: &mut Checker<'_>, v: &Value) -> Option<String> {
    let m = ck.obj(Some(v), "$")?;
    let before = ck.failures.len();
    for f in [
        "bundle_type",
        "bundle_version",
        "pith_number",
        "short_pith_number",
        "canonical_record",
        "canonical_sha256",
        "source",
        "source_aliases",
        "events",
        "timestamp_proofs",
        "mirror_hints",
        "public_keys",
        "merge_version",
        "built_at",
        "links",
        "state",
        "bundle_signature",
    ] {
        if !m.contains_key(f) {
            ck.fail(
                "malformed",
                canon::join_key("$", f),
                "a member of the bundle",
                "nothing",
            );
        }
    }
    ck.closed(m, "$", &crate::model::BUNDLE);
    ck.closed_at(m.get("links"), "$.links", &crate::model::LINKS);
    if let Some(keys) = m.get("public_keys").and_then(Value::as_array) {
        for (i, k) in keys.iter().enumerate() {
            ck.closed_at(
                Some(k),
                &canon::join_index("$.public_keys", i),
                &crate::model::KEY_DOCUMENT,
            );
        }
    }
    ck.eq_str(m, "$", "bundle_type", rules::BUNDLE_TYPE);
    ck.eq_str(m, "$", "bundle_version", rules::BUNDLE_VERSION);
    ck.eq_str(m, "$", "merge_version", rules::MERGE_VERSION);
    for (f, want_obj) in [
        ("events", false),
        ("public_keys", false),
        ("mirror_hints", false),
        ("source_aliases", false),
        ("timestamp_proofs", false),
        ("links", true),
        ("state", true),
        ("bundle_signature", true),
    ] {
        match (m.get(f), want_obj) {
            (Some(Value::Object(_)), true) | (Some(Value::Array(_)), false) | (None, _) => {}
            (other, _) => ck.fail(
                "malformed",
                canon::join_key("$", f),
                if want_obj { "an object" } else { "an array" },
                show(other),
            ),
        }
    }
    let built_at = ck.ts(m, "$", "built_at");
    if let Some(t) = &built_at
        && !t.whole_seconds()
    {
        ck.fail(
            "malformed",
            "$.built_at",
            "whole seconds",
            q(&t.to_string()),
        );
    }

    // keys the bundle carries: consistent in themselves, compared with the keyring
    if let Some(Value::Array(keys)) = m.get("public_keys") {
        for (i, doc) in keys.iter().enumerate() {
            let p = canon::join_index("$.public_keys", i);
            // identical to a keyring document (checked when the keyring loaded): nothing to do
            let fp = doc.get("fingerprint_sha256_hex").and_then(Value::as_str);
            if let (Some(r), Some(fp)) = (ck.keyring, fp)
                && r.get(fp).is_some_and(|k| &k.doc.raw == doc)
            {
                continue;
            }
            match KeyDocument::from_value(doc, &p) {
                Err(ps) => ps
                    .into_iter()
                    .for_each(|x| ck.fail("bad_key_document", x.path, x.expected, x.found)),
                Ok(d) => match ck.keyring.and_then(|r| r.get(d.key.fingerprint())) {
                    None => ck.warn(
                        "untrusted_key",
                        &p,
                        "a key in the operator's keyring",
                        format!(
                            "key {} ({}), not trusted",
                            q(&d.key_id),
                            d.key.fingerprint()
                        ),
                    ),
                    Some(k) if k.doc.key_id != d.key_id => ck.fail(
                        "mismatch",
                        format!("{p}.key_id"),
                        format!("{} (the keyring's id)", q(&k.doc.key_id)),
                        q(&d.key_id),
                    ),
                    Some(_) => {}
                },
            }
        }
    }

    // the record and everything derived from it
    let facts: Option<RecordFacts> =
        check::record(ck, m.get("canonical_record"), "$.canonical_record");
    let mut rc_created = None;
    if let Some(f) = &facts {
        ck.eq_str(m, "$", "canonical_sha256", &f.sha256.hex());
        ck.eq_str(m, "$", "pith_number", &f.number.to_string());
        ck.eq_str(m, "$", "short_pith_number", &f.number.short());
        ck.eq_val(
            m,
            "$",
            "source",
            v.get("canonical_record")
                .and_then(|r| r.get("source"))
                .unwrap_or(&Value::Null),
            "canonical_record.source",
        );
        let code = &f.number.code;

        // events and the state as their merge
        let events: &[Value] = m
            .get("events")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let merged = merge::merge(&f.number, events, ck.keyring, &|i| {
            canon::join_index("$.events", i)
        });
        for (_, ps) in merged.problems {
            ck.failures.extend(ps);
        }
        ck.warnings.extend(merged.warnings);
        ck.notes.extend(merged.notes);
        let mut n_rc = 0;
        for (i, ev) in events.iter().enumerate() {
            let p = canon::join_index("$.events", i);
            match ev.get("event_type").and_then(Value::as_str) {
                Some("record_created") => {
                    n_rc += 1;
                    let pl = ev.get("payload");
                    if pl.and_then(|p| p.get("canonical_record")) != m.get("canonical_record") {
                        ck.fail(
                            "mismatch",
                            format!("{p}.payload.canonical_record"),
                            "the bundle's canonical_record",
                            show(pl.and_then(|p| p.get("canonical_record"))),
                        );
                    }
                    if rc_created.is_none() {
                        rc_created = ev
                            .get("created_at")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                }
                Some("graph_snapshot") => check::snapshot_title(ck, ev, &p, f),
                _ => {}
            }
        }
        if n_rc == 0 {
            ck.fail("malformed", "$.events", "a record_created event", "none");
        }
        if let Some(created) = &rc_created {
            let want = source_aliases(&f.source_id, f.version, code, created);
            ck.eq_val(m, "$", "source_aliases", &want, "derived from the record");
        }
        match m
            .get("links")
            .and_then(|l| l.get("resolver"))
            .and_then(Value::as_str)
        {
            Some(r) if r.ends_with(&format!("/pith/{code}")) => {
                let base = &r[..r.len() - format!("/pith/{code}").len()];
                let want = links(base, code);
                let lm = m.get("links").and_then(Value::as_object);
                for (k, wv) in want.as_object().into_iter().flatten() {
                    if lm.and_then(|l| l.get(k)) != Some(wv) {
                        ck.fail(
                            "mismatch",
                            format!("$.links.{k}"),
                            wv.brief(),
                            show(lm.and_then(|l| l.get(k))),
                        );
                    }
                }
                if lm.is_some_and(|l| l.len() != 4) {
                    ck.fail(
                        "malformed",
                        "$.links",
                        "exactly resolver, bundle, state, well_known_bundle",
                        show(m.get("links")),
                    );
                }
            }
            other => ck.fail(
                "mismatch",
                "$.links.resolver",
                format!("a URL ending in /pith/{code}"),
                show(other.map(Value::from).as_ref()),
            ),
        }
        if let Some(Value::Array(hints)) = m.get("mirror_hints") {
            for (i, h) in hints.iter().enumerate() {
                let p = canon::join_index("$.mirror_hints", i);
                match h.get("base_url").and_then(Value::as_str) {
                    Some(base) => {
                        let want = mirror_hint(base, code);
                        for k in ["bundle_url", "state_url", "well_known_bundle_url"] {
                            if h.get(k) != want.get(k) {
                                ck.fail(
                                    "mismatch",
                                    format!("{p}.{k}"),
                                    show(want.get(k)),
                                    show(h.get(k)),
                                );
                            }
                        }
                    }
                    None => ck.fail(
                        "malformed",
                        format!("{p}.base_url"),
                        "a URL",
                        show(h.get("base_url")),
                    ),
                }
            }
        }
        // the state must be exactly the merge of the events
        let st = m.get("state");
        // equal to the merge (whose state_sha256 was just computed): its digest holds too
        if st != Some(merged.state.value()) {
            state_digest(ck, st, "$.state");
        }
        if let Some(st) = st
            && st != merged.state.value()
        {
            let mut diffs = Vec::new();
            diff_paths(st, merged.state.value(), "$.state", &mut diffs);
            if diffs.is_empty() {
                diffs.push(("$.state".into(), merged.state.value().brief(), st.brief()));
            }
            for (p, want, found) in diffs {
                ck.fail(
                    "state_mismatch",
                    p,
                    format!("{want} (the merge of the events)"),
                    found,
                );
            }
        }
    }
    let _ = code26;

    // the bundle digest and its signature, checked at the protected built_at
    let bsha = canon_sha256_without(v, &["bundle_signature"]);
    if let Some(bs) = m.get("bundle_signature").and_then(Value::as_object)
        && bs.get("bundle_sha256").and_then(Value::as_str) != Some(&bsha.hex())
    {
        ck.fail(
            "bad_hash",
            "$.bundle_signature.bundle_sha256",
            bsha.hex(),
            show(bs.get("bundle_sha256")),
        );
    }
    ck.signature(
        m.get("bundle_signature"),
        "$.bundle_signature",
        &bsha,
        crate::trust::signer::Domain::Bundle,
        built_at.as_ref().map(|t| (t, "$.built_at")),
    );
    let _ = before;
    facts.map(|f| f.number.to_string())
}

/// Check `state_sha256` of a state.
fn state_digest(ck: &mut Checker<'_>, st: Option<&Value>, path: &str) {
    let Some(sm) = ck.obj(st, path) else { return };
    let want = canon_sha256_without(st.unwrap_or(&Value::Null), &["state_sha256"]);
    if sm.get("state_sha256").and_then(Value::as_str) != Some(&want.hex()) {
        ck.fail(
            "bad_hash",
            format!("{path}.state_sha256"),
            want.hex(),
            show(sm.get("state_sha256")),
        );
    }
}

/// Collect the paths where two values differ (at most 20).
pub(crate) fn diff_paths(
    found: &Value,
    want: &Value,
    path: &str,
    out: &mut Vec<(String, String, String)>,
) {
    if out.len() >= 20 {
        return;
    }
    match (found, want) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                let p = canon::join_key(path, k);
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_paths(x, y, &p, out),
                    (x, y) => out.push((p, show(y), show(x))),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_paths(x, y, &canon::join_index(path, i), out);
            }
        }
        (a, b) if a != b => out.push((path.to_owned(), b.brief(), a.brief())),
        _ => {}
    }
}

/// Check a standalone state: digest, derivations, counts (spec §12: a state
/// authenticates only its record, through the receipt).
fn state(ck: &mut Checker<'_>, v: &Value) -> Option<String> {
    let m = ck.obj(Some(v), "$")?;
    ck.closed(m, "$", &crate::model::STATE);
    ck.eq_str(m, "$", "state_type", rules::STATE_TYPE);
    ck.eq_str(m, "$", "state_version", rules::STATE_VERSION);
    ck.eq_str(m, "$", "merge_version", rules::MERGE_VERSION);
    state_digest(ck, Some(v), "$");
    let cur = ck.obj(m.get("current"), "$.current")?;
    let count = |k: &str| m.get(k).and_then(Value::as_int);
    let len = |k: &str| m.get(k).and_then(Value::as_array).map(|a| a.len() as i128);
    if count("event_count")
        != count("valid_event_count")
            .zip(count("invalid_event_count"))
            .map(|(a, b)| a + b)
    {
        ck.fail(
            "malformed",
            "$.event_count",
            "valid_event_count + invalid_event_count",
            show(m.get("event_count")),
        );
    }
    if count("invalid_event_count") != len("invalid_events") {
        ck.fail(
            "malformed",
            "$.invalid_event_count",
            "the length of invalid_events",
            show(m.get("invalid_event_count")),
        );
    }
    if count("equivocation_count") != len("equivocations") {
        ck.fail(
            "malformed",
            "$.equivocation_count",
            "the length of equivocations",
            show(m.get("equivocation_count")),
        );
    }
    let applied: Vec<&str> = m
        .get("applied_event_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (k, list) in cur.iter() {
        if let Value::Array(items) = list {
            if k == "source_aliases" {
                continue;
            }
            for (i, e) in items.iter().enumerate() {
                let id = e
                    .get("event_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !applied.contains(&id) {
                    ck.fail(
                        "malformed",
                        format!("$.current.{k}[{i}].event_id"),
                        "an id listed in applied_event_ids",
                        q(id),
                    );
                }
            }
        }
    }
    let facts = check::record(
        ck,
        cur.get("canonical_record"),
        "$.current.canonical_record",
    )?;
    ck.eq_str(m, "$", "pith_number", &facts.number.to_string());
    let rc = ck.obj(cur.get("record_created"), "$.current.record_created")?;
    let pl = ck.obj(rc.get("payload"), "$.current.record_created.payload")?;
    if pl.get("canonical_record") != cur.get("canonical_record") {
        ck.fail(
            "mismatch",
            "$.current.record_created.payload.canonical_record",
            "current.canonical_record",
            show(pl.get("canonical_record")),
        );
    }
    let created = ck.ts(rc, "$.current.record_created", "created_at");
    if let Some(c) = created {
        let want = source_aliases(
            &facts.source_id,
            facts.version,
            &facts.number.code,
            rc.get("created_at")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        ck.eq_val(
            cur,
            "$.current",
            "source_aliases",
            &want,
            "derived from the record",
        );
        check::receipt(
            ck,
            pl.get("receipt"),
            "$.current.record_created.payload.receipt",
            &facts.sha256,
            Some((&c, "$.current.record_created.created_at".into())),
        );
    }
    let _: Option<Timestamp> = None;
    Some(facts.number.to_string())
}
