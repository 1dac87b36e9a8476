//! The one verification path: findings, signature checks, record and event checks.
//!
//! Every command that checks something (verify, merge, apply, bundle) goes through these
//! functions, so there is one copy of each rule of spec §12.

use crate::format::canon::{self, Map, Value};
use crate::format::digest::{
    PithNumber, Sha256Digest, canon_sha256, canon_sha256_without, text_canon_sha256,
};
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::model::{self as schema, Schema};
use crate::trust::keys::{KeyWindow, b64_decode};
use crate::trust::signer::{self, Domain};
use crate::verify::keyring::Keyring;

/// One failed check or warning: where, what was expected, what was found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// JSON path (`$.events[0].signature.signature_b64`) or file-level location.
    pub path: String,
    /// What the check expected.
    pub expected: String,
    /// What was found.
    pub found: String,
    /// A short stable code for the kind of failure (`bad_signature`, `bad_hash`, ...).
    pub code: &'static str,
}

impl Finding {
    fn new(
        code: &'static str,
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Finding {
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
            code,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

/// Accumulates failures and warnings while checking one artifact.
#[derive(Debug, Default)]
pub struct Checker<'k> {
    /// The operator's keyring; None skips signature checks (merge without a keyring).
    pub keyring: Option<&'k Keyring>,
    /// Failed checks.
    pub failures: Vec<Finding>,
    /// Warnings (unauthenticated fields that disagree).
    pub warnings: Vec<Finding>,
    /// Notes: what verification observed that needs no one's attention (decided: an
    /// unauthenticated `signed_at` that differs from the protected time, as every
    /// re-signed or offline-signed artifact shows). Shown on request only.
    pub notes: Vec<Finding>,
}

/// Render a value briefly for a message (`nothing` when absent).
pub fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "nothing".to_owned(), Value::brief)
}

/// Quote a string for a message.
pub fn q(s: &str) -> String {
    format!("{s:?}")
}

impl<'k> Checker<'k> {
    /// A checker trusting `keyring`.
    pub fn new(keyring: Option<&'k Keyring>) -> Self {
        Checker {
            keyring,
            failures: Vec::new(),
            warnings: Vec::new(),
            notes: Vec::new(),
        }
    }
    /// Record a failure.
    pub fn fail(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) {
        self.failures
            .push(Finding::new(code, path, expected, found));
    }
    /// Record a note (see [`Checker::notes`]).
    pub fn note(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) {
        self.notes.push(Finding::new(code, path, expected, found));
    }
    /// Record a warning.
    pub(crate) fn warn(
        &mut self,
        code: &'static str,
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) {
        self.warnings
            .push(Finding::new(code, path, expected, found));
    }
    /// The object at `path`, or a failure.
    pub fn obj<'v>(&mut self, v: Option<&'v Value>, path: &str) -> Option<&'v Map> {
        match v.and_then(Value::as_object) {
            Some(m) => Some(m),
            None => {
                self.fail("malformed", path, "an object", show(v));
                None
            }
        }
    }
    /// Refuse every member of `m` that `schema` does not define (closed schemas,
    /// `crate::model`): one failure per unknown field, naming its path.
    pub(crate) fn closed(&mut self, m: &Map, path: &str, schema: &Schema) {
        for k in m.keys() {
            if !schema.allows(k) {
                self.fail(
                    "unknown_field",
                    canon::join_key(path, k),
                    format!(
                        "only the fields of {} ({})",
                        schema.kind,
                        schema.fields.join(", ")
                    ),
                    format!("the field {}", q(k)),
                );
            }
        }
    }
    /// [`Self::closed`] for the object at `path`, when it is one.
    pub(crate) fn closed_at(&mut self, v: Option<&Value>, path: &str, schema: &Schema) {
        if let Some(Value::Object(m)) = v {
            self.closed(m, path, schema);
        }
    }
    /// The string member `key` of `m`, or a failure.
    pub fn str<'v>(&mut self, m: &'v Map, path: &str, key: &str) -> Option<&'v str> {
        match m.get(key) {
            Some(Value::String(s)) => Some(s),
            other => {
                self.fail(
                    "malformed",
                    canon::join_key(path, key),
                    "a string",
                    show(other),
                );
                None
            }
        }
    }
    /// The member `key` must equal the string `want`.
    pub(crate) fn eq_str(&mut self, m: &Map, path: &str, key: &str, want: &str) {
        if m.get(key).and_then(Value::as_str) != Some(want) {
            self.fail(
                "mismatch",
                canon::join_key(path, key),
                q(want),
                show(m.get(key)),
            );
        }
    }
    /// The member `key` must equal `want`.
    pub(crate) fn eq_val(&mut self, m: &Map, path: &str, key: &str, want: &Value, what: &str) {
        if m.get(key) != Some(want) {
            self.fail(
                "mismatch",
                canon::join_key(path, key),
                format!("{} ({what})", want.brief()),
                show(m.get(key)),
            );
        }
    }
    /// A timestamp member, or a failure.
    pub fn ts(&mut self, m: &Map, path: &str, key: &str) -> Option<Timestamp> {
        let s = self.str(m, path, key)?;
        let t = Timestamp::parse(s);
        if t.is_none() {
            self.fail(
                "malformed",
                canon::join_key(path, key),
                "a UTC timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)",
                q(s),
            );
        }
        t
    }
    /// A 64-hex digest member, or a failure.
    pub fn digest(&mut self, m: &Map, path: &str, key: &str) -> Option<Sha256Digest> {
        let s = self.str(m, path, key)?;
        let d = Sha256Digest::from_hex(s);
        if d.is_none() {
            self.fail(
                "malformed",
                canon::join_key(path, key),
                "64 lower-case hex characters",
                q(s),
            );
        }
        d
    }
    /// Is everything checked so far fine?
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// Check one signature object over `digest` (spec §4, §12).
    ///
    /// `protected` is the authenticated time the key must have been valid at, with the
    /// path of the field it came from. The unprotected `signed_at` only warns.
    pub fn signature(
        &mut self,
        sig: Option<&Value>,
        path: &str,
        digest: &Sha256Digest,
        domain: Domain,
        protected: Option<(&Timestamp, &str)>,
    ) {
        self.signature_by(sig, path, digest, domain, protected, true);
    }

    /// [`Self::signature`], returning the fingerprint of the keyring key whose signature
    /// verified; `window` false skips the key-validity check (statements check it
    /// themselves).
    pub(crate) fn signature_by(
        &mut self,
        sig: Option<&Value>,
        path: &str,
        digest: &Sha256Digest,
        domain: Domain,
        protected: Option<(&Timestamp, &str)>,
        window: bool,
    ) -> Option<String> {
        let label = domain.label();
        let m = self.obj(sig, path)?;
        self.closed(
            m,
            path,
            match domain {
                Domain::Receipt => &schema::RECEIPT,
                Domain::Bundle => &schema::BUNDLE_SIGNATURE,
                _ => &schema::SIGNATURE,
            },
        );
        self.eq_str(m, path, "algorithm", rules::ALGORITHM);
        self.eq_str(m, path, "signature_status", rules::SIGNATURE_STATUS);
        self.eq_str(m, path, "signed_message", label);
        let key_id = self.str(m, path, "key_id");
        let fp = self.str(m, path, "public_key_fingerprint");
        let signed_at = self.ts(m, path, "signed_at");
        let sig_bytes: Option<[u8; 64]> = match m.get("signature_b64") {
            Some(Value::String(s)) => match b64_decode(s).and_then(|b| b.try_into().ok()) {
                Some(b) => Some(b),
                None => {
                    self.fail(
                        "malformed",
                        canon::join_key(path, "signature_b64"),
                        "base64 of 64 bytes",
                        q(s),
                    );
                    None
                }
            },
            other => {
                self.fail(
                    "malformed",
                    canon::join_key(path, "signature_b64"),
                    "a string",
                    show(other),
                );
                None
            }
        };
        if let (Some(t), Some(sa)) = (protected, signed_at)
            && !rules::signed_at_agrees(t.0, &sa)
        {
            self.note(
                "signed_at_disagrees",
                canon::join_key(path, "signed_at"),
                format!(
                    "a time within the precision of {} = {} (signed_at is not authenticated)",
                    t.1, t.0
                ),
                q(&sa.to_string()),
            );
        }
        let ring = self.keyring?;
        let fp = fp?;
        let Some(key) = ring.get(fp) else {
            self.fail(
                "unknown_key",
                canon::join_key(path, "public_key_fingerprint"),
                "the fingerprint of a key in the keyring",
                q(fp),
            );
            return None;
        };
        if let Some(id) = key_id
            && id != key.doc.key_id
        {
            self.fail(
                "mismatch",
                canon::join_key(path, "key_id"),
                format!("{} (the keyring's id for this key)", q(&key.doc.key_id)),
                q(id),
            );
        }
        let verified =
            sig_bytes.is_some_and(|sb| signer::verify_digest(&key.doc.key, domain, digest, &sb));
        if sig_bytes.is_some() && !verified {
            self.fail(
                "bad_signature",
                canon::join_key(path, "signature_b64"),
                format!(
                    "a valid Ed25519 signature by {} over {label} {}",
                    key.doc.key_id,
                    digest.hex()
                ),
                "a signature that does not verify",
            );
        }
        let fingerprint = verified.then(|| fp.to_owned());
        if !window {
            return fingerprint;
        }
        let (t, tpath) = match (protected, signed_at.as_ref()) {
            (Some((t, p)), _) => (*t, p.to_owned()),
            (None, Some(sa)) => (*sa, canon::join_key(path, "signed_at")),
            (None, None) => return fingerprint,
        };
        match key.window_at(&t) {
            KeyWindow::Valid => {}
            KeyWindow::Rotated(r) => self.fail(
                "key_rotated",
                tpath,
                format!(
                    "a time before {r}, when key {} was rotated out",
                    key.doc.key_id
                ),
                format!("{t} (the signature at {path} was made at or after the key's rotation)"),
            ),
            KeyWindow::Revoked(r, why) => self.fail(
                "key_revoked",
                tpath,
                format!(
                    "a time before {r}, when key {} was revoked ({why})",
                    key.doc.key_id
                ),
                format!("{t} (the signature at {path} was made at or after the key's revocation)"),
            ),
            KeyWindow::NotYetValid(f) => self.fail(
                "key_not_yet_valid",
                tpath,
                format!(
                    "a time at or after {f}, when key {} became valid",
                    key.doc.key_id
                ),
                format!("{t} (the signature at {path} predates its key)"),
            ),
        }
        fingerprint
    }
}

pub use crate::model::RecordFacts;

fn is_hex64(s: &str) -> bool {
    Sha256Digest::from_hex(s).is_some()
}

/// Check the shape of a canonical record (spec §6) and derive its facts.
pub fn record(ck: &mut Checker<'_>, v: Option<&Value>, path: &str) -> Option<RecordFacts> {
    let before = ck.failures.len();
    let m = ck.obj(v, path)?;
    ck.closed(m, path, &schema::RECORD);
    ck.eq_str(m, path, "schema_version", rules::SCHEMA_VERSION);
    let sp = canon::join_key(path, "source");
    let src = ck.obj(m.get("source"), &sp);
    let mp = canon::join_key(path, "metadata");
    let md = ck.obj(m.get("metadata"), &mp);
    let (src, md) = (src?, md?);
    ck.closed(src, &sp, &schema::RECORD_SOURCE);
    ck.closed(md, &mp, &schema::RECORD_METADATA);
    ck.eq_str(src, &sp, "kind", "arxiv");
    let id = ck.str(src, &sp, "id");
    let version = match src.get("version") {
        Some(Value::Int(i)) if *i >= 1 => Some(*i),
        other => {
            ck.fail(
                "malformed",
                canon::join_key(&sp, "version"),
                "an integer >= 1",
                show(other),
            );
            None
        }
    };
    let submitted = ck.ts(md, &mp, "submitted_at");
    if let Some(t) = &submitted
        && !t.whole_seconds()
    {
        ck.fail(
            "malformed",
            canon::join_key(&mp, "submitted_at"),
            "whole seconds",
            q(&t.to_string()),
        );
    }
    let primary = ck.str(md, &mp, "primary_cat");
    if let Some(lic) = ck.str(md, &mp, "license")
        && lic.is_empty()
    {
        ck.fail(
            "malformed",
            canon::join_key(&mp, "license"),
            "a license URL",
            "\"\"",
        );
    }
    match md.get("cross_cats_sorted") {
        Some(Value::Array(a)) => {
            let cats: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
            let ok = cats.is_some_and(|c| {
                c.windows(2).all(|w| w[0] < w[1]) && !c.iter().any(|x| Some(*x) == primary)
            });
            if !ok {
                ck.fail(
                    "malformed",
                    canon::join_key(&mp, "cross_cats_sorted"),
                    "strings sorted, unique, without the primary category",
                    show(md.get("cross_cats_sorted")),
                );
            }
        }
        other => ck.fail(
            "malformed",
            canon::join_key(&mp, "cross_cats_sorted"),
            "an array",
            show(other),
        ),
    }
    let mut title = None;
    for f in ["title_canon_sha256", "abstract_canon_sha256"] {
        if let Some(s) = ck.str(md, &mp, f) {
            if !is_hex64(s) {
                ck.fail(
                    "malformed",
                    canon::join_key(&mp, f),
                    "64 lower-case hex characters",
                    q(s),
                );
            } else if f == "title_canon_sha256" {
                title = Some(s.to_owned());
            }
        }
    }
    if ck.failures.len() != before {
        return None;
    }
    let (id, version, submitted, title) = (id?, version?, submitted?, title?);
    let sha256 = canon_sha256(v?);
    Some(RecordFacts {
        number: PithNumber::derive(rules::pith_year(&submitted), &sha256),
        sha256,
        source_id: id.to_owned(),
        version,
        kind: "arxiv".into(),
        title_sha256: title,
    })
}

/// What a structurally sound event yields.
#[derive(Clone, Debug)]
pub struct EventFacts {
    /// `event_id` as recomputed.
    pub event_id: String,
    /// `event_type`.
    pub event_type: String,
    /// `created_at`.
    pub created_at: Timestamp,
}

/// Check one event fully (spec §9, §12): shape, kind, digests, signature, subject.
///
/// `subject` is the Pith number it must be about, when known.
pub fn event(
    ck: &mut Checker<'_>,
    v: &Value,
    path: &str,
    subject: Option<&PithNumber>,
) -> Option<EventFacts> {
    let before = ck.failures.len();
    let m = ck.obj(Some(v), path)?;
    for f in [
        "event_type",
        "subject_pith_number",
        "target",
        "payload",
        "signer",
        "created_at",
        "supersedes",
        "prev_event",
        "signature",
        "content_sha256",
        "schema_version",
        "event_id",
    ] {
        if !m.contains_key(f) {
            ck.fail(
                "malformed",
                canon::join_key(path, f),
                "a member of the event",
                "nothing",
            );
        }
    }
    ck.closed(m, path, &schema::EVENT);
    let et = ck.str(m, path, "event_type");
    let kind = et.and_then(rules::event_kind);
    if let (Some(et), None) = (et, kind) {
        ck.fail(
            "unknown_event_type",
            canon::join_key(path, "event_type"),
            "a known event type",
            q(et),
        );
    }
    if let Some((target, _)) = kind {
        ck.eq_str(m, path, "target", target);
    }
    ck.eq_str(m, path, "schema_version", rules::SCHEMA_VERSION);
    let created_at = ck.ts(m, path, "created_at");
    match m.get("supersedes") {
        Some(Value::Array(a))
            if a.iter()
                .all(|x| x.as_str().is_some_and(|s| s.starts_with("sha256:"))) => {}
        None => {}
        other => ck.fail(
            "malformed",
            canon::join_key(path, "supersedes"),
            "a list of event ids",
            show(other),
        ),
    }
    match m.get("prev_event") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.starts_with("sha256:") => {}
        other => ck.fail(
            "malformed",
            canon::join_key(path, "prev_event"),
            "an event id or null",
            show(other),
        ),
    }
    let sp = canon::join_key(path, "subject_pith_number");
    let subj = ck.str(m, path, "subject_pith_number");
    if let Some(s) = subj {
        match (PithNumber::parse(s), subject) {
            (None, _) => ck.fail("malformed", &sp, "a Pith number pith:YYYY:CODE", q(s)),
            (Some(n), Some(want)) if &n != want => ck.fail(
                "wrong_subject",
                &sp,
                format!("{want} (the record this is about)"),
                q(s),
            ),
            _ => {}
        }
    }
    let pp = canon::join_key(path, "payload");
    if let Some(pl) = ck.obj(m.get("payload"), &pp) {
        match et {
            Some("record_created") => {
                ck.closed(pl, &pp, &schema::RECORD_CREATED_PAYLOAD);
                let rp = canon::join_key(&pp, "canonical_record");
                if let Some(facts) = record(ck, pl.get("canonical_record"), &rp) {
                    ck.eq_str(pl, &pp, "canonical_sha256", &facts.sha256.hex());
                    ck.eq_str(pl, &pp, "source_kind", &facts.kind);
                    ck.eq_str(pl, &pp, "source_id", &facts.source_id);
                    ck.eq_val(
                        pl,
                        &pp,
                        "source_version",
                        &Value::Int(facts.version),
                        "source.version of the record",
                    );
                    ck.eq_str(pl, &pp, "attestation_state", "computed");
                    if let Some(s) = subj
                        && PithNumber::parse(s).as_ref() != Some(&facts.number)
                    {
                        ck.fail(
                            "wrong_subject",
                            &sp,
                            format!("{} (derived from the payload's record)", facts.number),
                            q(s),
                        );
                    }
                    receipt(
                        ck,
                        pl.get("receipt"),
                        &canon::join_key(&pp, "receipt"),
                        &facts.sha256,
                        created_at
                            .as_ref()
                            .map(|t| (t, canon::join_key(path, "created_at"))),
                    );
                }
            }
            Some("graph_snapshot") => {
                ck.closed(pl, &pp, &schema::GRAPH_PAYLOAD);
                let gp = canon::join_key(&pp, "graph_snapshot");
                if let Some(g) = ck.obj(pl.get("graph_snapshot"), &gp) {
                    graph_snapshot_closed(ck, g, &gp);
                }
                if !pl.contains_key("verdict_id") {
                    ck.fail(
                        "malformed",
                        canon::join_key(&pp, "verdict_id"),
                        "a verdict id or null",
                        "nothing",
                    );
                }
            }
            _ => {}
        }
    }
    let signer_p = canon::join_key(path, "signer");
    let mut successor_of: Option<String> = None;
    if let Some(signer) = ck.obj(m.get("signer"), &signer_p) {
        ck.closed(signer, &signer_p, &schema::SIGNER);
        for f in [
            "signer_id",
            "signer_type",
            "key_id",
            "public_key_fingerprint",
        ] {
            ck.str(signer, &signer_p, f);
        }
        if let Some(Value::Object(sig)) = m.get("signature") {
            // a re-signature by the signer key's successor (spec §3) is the signer's
            let fp = |o: &Map| {
                o.get("public_key_fingerprint")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let successor = match (ck.keyring, fp(signer), fp(sig)) {
                (Some(r), Some(a), Some(b)) => a != b && r.succeeds(&a, &b),
                _ => false,
            };
            if successor {
                successor_of = fp(signer);
            }
            for f in ["key_id", "public_key_fingerprint"] {
                if !successor && signer.get(f) != sig.get(f) {
                    ck.fail(
                        "mismatch",
                        canon::join_key(&signer_p, f),
                        format!(
                            "{} (as in the signature, or a key the signer's key was rotated to)",
                            show(sig.get(f))
                        ),
                        show(signer.get(f)),
                    );
                }
            }
        }
    }
    let content = canon_sha256_without(v, &rules::EVENT_UNHASHED);
    let want_id = format!("sha256:{}", content.hex());
    if m.get("content_sha256").and_then(Value::as_str) != Some(&content.hex()) {
        ck.fail(
            "bad_hash",
            canon::join_key(path, "content_sha256"),
            content.hex(),
            show(m.get("content_sha256")),
        );
    }
    if m.get("event_id").and_then(Value::as_str) != Some(&want_id) {
        ck.fail(
            "bad_hash",
            canon::join_key(path, "event_id"),
            want_id.clone(),
            show(m.get("event_id")),
        );
    }
    let cpath = canon::join_key(path, "created_at");
    let spath = canon::join_key(path, "signature");
    match &successor_of {
        None => ck.signature(
            m.get("signature"),
            &spath,
            &content,
            Domain::Event,
            created_at.as_ref().map(|t| (t, cpath.as_str())),
        ),
        Some(original) => successor_signature(
            ck,
            m.get("signature"),
            &spath,
            &content,
            original,
            created_at.as_ref().map(|t| (t, cpath.as_str())),
        ),
    }
    if ck.failures.len() != before {
        return None;
    }
    Some(EventFacts {
        event_id: want_id,
        event_type: et?.to_owned(),
        created_at: created_at?,
    })
}

/// Check a receipt (spec §8) against the record digest it must cover.
pub fn receipt(
    ck: &mut Checker<'_>,
    v: Option<&Value>,
    path: &str,
    csha: &Sha256Digest,
    protected: Option<(&Timestamp, String)>,
) {
    let Some(r) = ck.obj(v, path) else { return };
    ck.eq_str(r, path, "kind", rules::RECEIPT_KIND);
    ck.eq_str(r, path, "receipt_version", rules::RECEIPT_VERSION);
    ck.eq_str(r, path, "canonical_sha256", &csha.hex());
    ck.str(r, path, "builder_version");
    let first = ck.ts(r, path, "first_computed_at");
    let last = ck.ts(r, path, "last_reissued_at");
    if let (Some(f), Some(l)) = (first, last)
        && l.micros() < f.micros()
    {
        ck.fail(
            "malformed",
            canon::join_key(path, "last_reissued_at"),
            format!("a time at or after first_computed_at {f}"),
            q(&l.to_string()),
        );
    }
    // a standalone receipt's own times are its best evidence of when it was made
    let fallback = last.map(|l| (l, canon::join_key(path, "last_reissued_at")));
    let prot = protected.map(|(t, p)| (*t, p)).or(fallback);
    ck.signature(
        v,
        path,
        csha,
        Domain::Receipt,
        prot.as_ref().map(|(t, p)| (t, p.as_str())),
    );
}

/// A re-signature by a successor of the event's signer key (spec §3, decided): the
/// signature must verify under the successor, the signer's own key must have been valid
/// at the event's protected time (the signer still vouches for the content then), and
/// the successor must have begun signing by its unauthenticated `signed_at` and never
/// have been revoked (its re-signature has no protected time of its own, so any
/// revocation of the successor ends all of them).
fn successor_signature(
    ck: &mut Checker<'_>,
    sig: Option<&Value>,
    path: &str,
    digest: &Sha256Digest,
    original: &str,
    protected: Option<(&Timestamp, &str)>,
) {
    let Some(fp) = ck.signature_by(sig, path, digest, Domain::Event, protected, false) else {
        return;
    };
    let Some(ring) = ck.keyring else {
        return;
    };
    if let (Some(k), Some((t, tpath))) = (ring.get(original), protected) {
        match k.window_at(t) {
            KeyWindow::Valid => {}
            w => {
                let why = crate::trust::policy::refusal(&k.doc.key_id, &w, t).unwrap_or_default();
                ck.fail(
                    "signer_not_valid",
                    tpath,
                    "a time the signer's own key was valid (a successor re-signs only what the signer could sign)",
                    why,
                );
            }
        }
    }
    if let Some(k) = ring.get(&fp) {
        if let Some((r, why)) = &k.revoked {
            ck.fail(
                "key_revoked",
                canon::join_key(path, "public_key_fingerprint"),
                "a successor key never revoked (its re-signatures carry no protected time)",
                format!("{} revoked at {r} ({why})", k.doc.key_id),
            );
        }
        let signed_at = sig
            .and_then(|s| s.get("signed_at"))
            .and_then(Value::as_str)
            .and_then(Timestamp::parse);
        if let (Some(f), Some(sa)) = (&k.doc.valid_from, signed_at)
            && sa.micros() < f.micros()
        {
            ck.fail(
                "key_not_yet_valid",
                canon::join_key(path, "signed_at"),
                format!(
                    "a time at or after {f}, when key {} became valid",
                    k.doc.key_id
                ),
                sa.to_string(),
            );
        }
    }
}

/// The closed-schema check alone of an event, signed or not: what the signing path runs
/// before it signs (no field outside its kind's schema at any level pith defines).
pub(crate) fn event_fields(ev: &Value) -> Result<(), Finding> {
    let mut ck = Checker::new(None);
    if let Some(m) = ev.as_object() {
        ck.closed(m, "$", &schema::EVENT);
        ck.closed_at(m.get("signer"), "$.signer", &schema::SIGNER);
        if let Some(Value::Object(pl)) = m.get("payload") {
            match m.get("event_type").and_then(Value::as_str) {
                Some("record_created") => {
                    ck.closed(pl, "$.payload", &schema::RECORD_CREATED_PAYLOAD);
                    ck.closed_at(pl.get("receipt"), "$.payload.receipt", &schema::RECEIPT);
                    if let Some(Value::Object(r)) = pl.get("canonical_record") {
                        let rp = "$.payload.canonical_record";
                        ck.closed(r, rp, &schema::RECORD);
                        ck.closed_at(
                            r.get("source"),
                            &format!("{rp}.source"),
                            &schema::RECORD_SOURCE,
                        );
                        ck.closed_at(
                            r.get("metadata"),
                            &format!("{rp}.metadata"),
                            &schema::RECORD_METADATA,
                        );
                    }
                }
                Some("graph_snapshot") => {
                    ck.closed(pl, "$.payload", &schema::GRAPH_PAYLOAD);
                    if let Some(Value::Object(g)) = pl.get("graph_snapshot") {
                        graph_snapshot_closed(&mut ck, g, "$.payload.graph_snapshot");
                    }
                }
                _ => {}
            }
        }
    }
    match ck.failures.into_iter().next() {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// The sections of a graph snapshot that pith builds are closed (spec §9); the opaque
/// sections' contents (findings, samples, summaries) are the registry's and stay open.
fn graph_snapshot_closed(ck: &mut Checker<'_>, g: &Map, path: &str) {
    ck.closed(g, path, &schema::GRAPH_SNAPSHOT);
    for (member, sch) in [
        ("paper", &schema::GRAPH_PAPER),
        ("verdict", &schema::GRAPH_VERDICT),
        ("claims", &schema::GRAPH_CLAIMS),
    ] {
        ck.closed_at(g.get(member), &canon::join_key(path, member), sch);
    }
    if let Some(items) = g
        .get("claims")
        .and_then(|c| c.get("items"))
        .and_then(Value::as_array)
    {
        let ip = canon::join_key(&canon::join_key(path, "claims"), "items");
        for (i, it) in items.iter().enumerate() {
            ck.closed_at(Some(it), &canon::join_index(&ip, i), &schema::GRAPH_CLAIM);
        }
    }
}

/// Check the `paper.title` of a graph snapshot against the record's title digest.
pub(crate) fn snapshot_title(ck: &mut Checker<'_>, ev: &Value, path: &str, facts: &RecordFacts) {
    let title = ev
        .get("payload")
        .and_then(|p| p.get("graph_snapshot"))
        .and_then(|g| g.get("paper"))
        .and_then(|p| p.get("title"));
    let tp = format!("{path}.payload.graph_snapshot.paper.title");
    match title {
        Some(Value::String(t)) => {
            if text_canon_sha256(t) != facts.title_sha256 {
                ck.fail(
                    "mismatch",
                    tp,
                    format!(
                        "a title whose canonical SHA-256 is {} (the record's)",
                        facts.title_sha256
                    ),
                    q(t),
                );
            }
        }
        other => ck.fail("malformed", tp, "a string", show(other)),
    }
}
