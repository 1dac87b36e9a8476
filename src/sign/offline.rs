//! Offline signing: requests prepared online, signed on an air-gapped machine, applied
//! online.
//!
//! A **signing request** holds the artifacts to sign, complete but for their signatures,
//! each with what the signature will cover (kind, subject, digest), the key that must sign,
//! and `request_id` = `sha256:` + hex(sha256(canon(request without `request_id`))). The
//! signer recomputes every digest from the artifacts and trusts none written in the
//! request. A **signing response** holds only the signatures and the request id; applying
//! it inserts them and verifies every artifact with the keyring before anything is written.

use std::collections::BTreeMap;

use crate::format::canon::{self, Value};
use crate::format::digest::{Sha256Digest, base32, canon_sha256_without, text_canon_sha256};
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::sign::issue::{self, KeyRef};
use crate::trust::policy::Authorized;
use crate::trust::signer::{Domain, SignError};
use crate::verify::check::{self, Checker};
use crate::verify::keyring::Keyring;

/// `request_type` of a signing request.
pub(crate) const REQUEST_TYPE: &str = "pith_signing_request";
/// `response_type` of a signing response.
pub(crate) const RESPONSE_TYPE: &str = "pith_signing_response";
/// Version of both.
pub(crate) const VERSION: &str = "1";

/// Why a request or response is refused. Every variant means: nothing was signed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OfflineError {
    /// The file is not a request / response of this version.
    #[error("{path}: expected {expected}")]
    Malformed {
        /// JSON path.
        path: String,
        /// What was expected.
        expected: String,
    },
    /// A stated digest or the request id does not match the content.
    #[error(
        "{path}: the request states {stated} but its content hashes to {actual}: refusing a request whose digests do not match its contents"
    )]
    DigestMismatch {
        /// JSON path of the stated digest.
        path: String,
        /// What the request says.
        stated: String,
        /// What the content gives.
        actual: String,
    },
    /// An item of a kind this signer does not sign.
    #[error(
        "{path}: unknown kind {kind:?}: this signer signs record_created, event and bundle items"
    )]
    UnknownKind {
        /// JSON path.
        path: String,
        /// The kind.
        kind: String,
    },
    /// The request names another key.
    #[error("the request is for key {wanted} ({wanted_fp}); this key is {have} ({have_fp})")]
    WrongKey {
        /// Key id the request names.
        wanted: String,
        /// Its fingerprint.
        wanted_fp: String,
        /// The key given.
        have: String,
        /// Its fingerprint.
        have_fp: String,
    },
    /// The response does not belong to the request.
    #[error("the response is for request {response}, not {request}")]
    OtherRequest {
        /// Request id in the response.
        response: String,
        /// Request id of the request.
        request: String,
    },
    /// The request was signed before (the signer's audit log says when).
    #[error(
        "request {request_id} was already signed at {at} (audit log {log}): refusing to sign it again"
    )]
    Replay {
        /// The request id.
        request_id: String,
        /// When it was signed.
        at: String,
        /// The audit log.
        log: String,
    },
    /// The audit log cannot be read or written.
    #[error(transparent)]
    Log(#[from] crate::sign::custody::CustodyError),
    /// The key may not sign (revoked, rotated out, not yet valid at the artifact's time).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// An artifact does not verify once signed.
    #[error("item {item}: the signed artifact does not verify: {first}")]
    DoesNotVerify {
        /// Item index.
        item: usize,
        /// The first failed check.
        first: String,
    },
}

fn malformed(path: impl Into<String>, expected: &str) -> OfflineError {
    OfflineError::Malformed {
        path: path.into(),
        expected: expected.into(),
    }
}

/// One artifact to sign.
#[derive(Clone, Debug)]
pub struct Item {
    /// What is to be signed.
    pub kind: ItemKind,
    /// The Pith number it is about.
    pub subject: String,
    /// The paper title shown to the signer, when known (checked against the record).
    pub title: Option<String>,
    /// The digest the signature will cover (for `record_created`: the receipt's).
    pub digest: Sha256Digest,
    /// The unsigned artifact.
    pub artifact: Value,
}

/// Build a signing request for `key`.
pub fn request(key: &KeyRef, items: &[Item], created_at: &Timestamp) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|i| {
            canon::object([
                ("kind", i.kind.as_str().into()),
                ("subject", i.subject.as_str().into()),
                ("title", i.title.as_deref().map_or(Value::Null, Value::from)),
                ("digest", i.digest.hex().into()),
                ("artifact", i.artifact.clone()),
            ])
        })
        .collect();
    let mut req = canon::object([
        ("request_type", REQUEST_TYPE.into()),
        ("request_version", VERSION.into()),
        ("created_at", created_at.fmt_seconds().into()),
        (
            "key",
            canon::object([
                ("key_id", key.key_id.as_str().into()),
                ("public_key_fingerprint", key.fingerprint.as_str().into()),
            ]),
        ),
        ("items", Value::Array(items)),
    ]);
    let id = request_id_of(&req);
    if let Some(m) = req.as_object_mut() {
        m.insert("request_id".into(), id.into());
    }
    req
}

fn request_id_of(req: &Value) -> String {
    format!(
        "sha256:{}",
        canon_sha256_without(req, &["request_id"]).hex()
    )
}

/// The request id as base32 groups to read aloud (first 100 bits: 20 characters).
pub fn words(request_id: &str) -> String {
    let hex = request_id.strip_prefix("sha256:").unwrap_or(request_id);
    let bytes: Vec<u8> = crate::format::digest::unhex(hex).unwrap_or_default();
    let b32 = base32(&bytes);
    b32.chars()
        .take(20)
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// What the signer is shown before signing.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Review {
    /// The request id.
    pub request_id: String,
    /// The request id as groups to compare by voice.
    pub words: String,
    /// The key that will sign.
    pub key_id: String,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Signatures the signer will make, per `signed_message` label: exactly what
    /// [`sign_logged`] makes for this request (a `record_created` item is two: its
    /// receipt and its event).
    pub counts: BTreeMap<String, usize>,
    /// Signatures in all.
    pub signatures: usize,
    /// (kind, subject, title) per item.
    pub items: Vec<(String, String, String)>,
}

impl ItemKind {
    /// The signatures an item of this kind gets, in the order they are made.
    pub fn signatures(self) -> &'static [Domain] {
        match self {
            ItemKind::RecordCreated => &[Domain::Receipt, Domain::Event],
            ItemKind::Event => &[Domain::Event],
            ItemKind::Bundle => &[Domain::Bundle],
        }
    }
}

/// A checked request item: the digest recomputed from the artifact.
struct Checked {
    kind: ItemKind,
    digest: Sha256Digest,
    /// The artifact's protected time the key must be valid at (spec §12).
    protected: Timestamp,
    subject: String,
    title: String,
}

/// What a request item asks to have signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// A `record_created` event: its receipt and its event signature.
    RecordCreated,
    /// An event of another kind: its signature.
    Event,
    /// A bundle: its `bundle_signature`.
    Bundle,
}

impl ItemKind {
    /// The wire name in a request.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::RecordCreated => "record_created",
            ItemKind::Event => "event",
            ItemKind::Bundle => "bundle",
        }
    }
    /// From the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "record_created" => Some(ItemKind::RecordCreated),
            "event" => Some(ItemKind::Event),
            "bundle" => Some(ItemKind::Bundle),
            _ => None,
        }
    }
}

/// The protected time of an unsigned artifact: `created_at` of an event, `built_at` of
/// a bundle.
fn protected_time(art: &Value, member: &str, p: &str) -> Result<Timestamp, OfflineError> {
    s(art, member)
        .and_then(Timestamp::parse)
        .ok_or_else(|| malformed(format!("{p}.artifact.{member}"), "a UTC time"))
}

/// Refuse an object with a field its kind does not define (closed schemas,
/// `crate::model`), naming the first such field's path.
fn closed(v: &Value, path: &str, schema: &crate::model::Schema) -> Result<(), OfflineError> {
    if let Some(m) = v.as_object()
        && let Some(k) = m.keys().find(|k| !schema.allows(k))
    {
        return Err(malformed(
            canon::join_key(path, k),
            &format!(
                "no such field: {} has only {}",
                schema.kind,
                schema.fields.join(", ")
            ),
        ));
    }
    Ok(())
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Check a request against the signing key's identity: request id, key, every item's
/// kind and digest recomputed from its artifact, titles against the record.
pub fn review(req: &Value, key: &KeyRef) -> Result<Review, OfflineError> {
    is_a(req, "request_type", "a pith signing request, version 1")?;
    let want = req
        .get("key")
        .ok_or_else(|| malformed("$.key", "the key that must sign"))?;
    let (wid, wfp) = (
        s(want, "key_id").unwrap_or_default(),
        s(want, "public_key_fingerprint").unwrap_or_default(),
    );
    if wfp != key.fingerprint {
        return Err(OfflineError::WrongKey {
            wanted: wid.into(),
            wanted_fp: wfp.into(),
            have: key.key_id.clone(),
            have_fp: key.fingerprint.clone(),
        });
    }
    let checked = check_request(req)?;
    let mut counts = BTreeMap::new();
    let mut signatures = 0;
    for c in &checked {
        for d in c.kind.signatures() {
            *counts.entry(d.label().to_owned()).or_insert(0) += 1;
            signatures += 1;
        }
    }
    let id = s(req, "request_id").unwrap_or_default().to_owned();
    Ok(Review {
        words: words(&id),
        request_id: id,
        key_id: key.key_id.clone(),
        fingerprint: key.fingerprint.clone(),
        counts,
        signatures,
        items: checked
            .into_iter()
            .map(|c| (c.kind.as_str().to_owned(), c.subject, c.title))
            .collect(),
    })
}

/// The document has the type member of what is expected (its value is checked after), else
/// it is refused naming what it is instead (`pith sign` given a bundle: "… expected a pith signing request, version 1;
/// this is a bundle").
fn is_a(v: &Value, member: &str, expected: &str) -> Result<(), OfflineError> {
    if v.get(member).is_some() {
        return Ok(());
    }
    Err(malformed(
        format!("$.{member}"),
        &format!("{expected}; this is {}", crate::verify::describe(v)),
    ))
}

fn check_request(req: &Value) -> Result<Vec<Checked>, OfflineError> {
    is_a(req, "request_type", "a pith signing request, version 1")?;
    if s(req, "request_type") != Some(REQUEST_TYPE) || s(req, "request_version") != Some(VERSION) {
        return Err(malformed(
            "$.request_type",
            "a pith signing request, version 1",
        ));
    }
    closed(req, "$", &crate::model::REQUEST)?;
    let stated = s(req, "request_id").ok_or_else(|| malformed("$.request_id", "the request id"))?;
    let actual = request_id_of(req);
    if stated != actual {
        return Err(OfflineError::DigestMismatch {
            path: "$.request_id".into(),
            stated: stated.into(),
            actual,
        });
    }
    let key_fp = req
        .get("key")
        .and_then(|k| s(k, "public_key_fingerprint"))
        .unwrap_or_default()
        .to_owned();
    let items = req
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("$.items", "an array of items"))?;
    if items.is_empty() {
        return Err(malformed("$.items", "at least one item"));
    }
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let p = format!("$.items[{i}]");
        closed(it, &p, &crate::model::REQUEST_ITEM)?;
        let kind_text = s(it, "kind").ok_or_else(|| malformed(format!("{p}.kind"), "a kind"))?;
        let kind = ItemKind::parse(kind_text).ok_or_else(|| OfflineError::UnknownKind {
            path: format!("{p}.kind"),
            kind: kind_text.into(),
        })?;
        let art = it
            .get("artifact")
            .filter(|a| a.as_object().is_some())
            .ok_or_else(|| malformed(format!("{p}.artifact"), "an object"))?;
        // the artifact must be of its kind and nothing else, before anything is signed
        let ap = format!("{p}.artifact");
        match kind {
            ItemKind::Bundle => closed(art, &ap, &crate::model::BUNDLE)?,
            ItemKind::RecordCreated | ItemKind::Event => {
                closed(art, &ap, &crate::model::EVENT)?;
                if let Some(sg) = art.get("signer") {
                    closed(sg, &format!("{ap}.signer"), &crate::model::SIGNER)?;
                }
            }
        }
        if kind == ItemKind::RecordCreated
            && let Some(pl) = art.get("payload")
        {
            closed(
                pl,
                &format!("{ap}.payload"),
                &crate::model::RECORD_CREATED_PAYLOAD,
            )?;
            if let Some(r) = pl.get("receipt") {
                closed(r, &format!("{ap}.payload.receipt"), &crate::model::RECEIPT)?;
            }
        }
        let stated = s(it, "digest").ok_or_else(|| malformed(format!("{p}.digest"), "a digest"))?;
        let subject = s(it, "subject").unwrap_or_default().to_owned();
        let (digest, real_subject, title) = match kind {
            ItemKind::RecordCreated => {
                let pl = art.get("payload").ok_or_else(|| {
                    malformed(
                        format!("{p}.artifact.payload"),
                        "the record_created payload",
                    )
                })?;
                let mut ck = Checker::new(None);
                let facts = check::record(
                    &mut ck,
                    pl.get("canonical_record"),
                    &format!("{p}.artifact.payload.canonical_record"),
                )
                .ok_or_else(|| {
                    malformed(
                        ck.failures.first().map_or(p.clone(), |f| f.path.clone()),
                        "a well-formed canonical record",
                    )
                })?;
                for (path, v) in [
                    ("payload.canonical_sha256", s(pl, "canonical_sha256")),
                    (
                        "payload.receipt.canonical_sha256",
                        pl.get("receipt").and_then(|r| s(r, "canonical_sha256")),
                    ),
                ] {
                    if v != Some(facts.sha256.hex().as_str()) {
                        return Err(OfflineError::DigestMismatch {
                            path: format!("{p}.artifact.{path}"),
                            stated: v.unwrap_or("nothing").into(),
                            actual: facts.sha256.hex(),
                        });
                    }
                }
                if s(art, "event_type")
                    != Some(crate::format::rules::EventType::RecordCreated.as_str())
                    || s(art, "subject_pith_number") != Some(facts.number.to_string().as_str())
                {
                    return Err(malformed(
                        format!("{p}.artifact"),
                        &format!("a record_created event about {}", facts.number),
                    ));
                }
                // the title shown must be the record's title (its hash is in the record)
                // the signer must see the paper's title, and it must be the record's
                let Some(title) = s(it, "title").filter(|t| !t.trim().is_empty()) else {
                    return Err(malformed(
                        format!("{p}.title"),
                        "the paper's title (a record_created item is signed only with its title shown)",
                    ));
                };
                let title = title.to_owned();
                if text_canon_sha256(&title) != facts.title_sha256 {
                    return Err(OfflineError::DigestMismatch {
                        path: format!("{p}.title"),
                        stated: text_canon_sha256(&title),
                        actual: facts.title_sha256.clone(),
                    });
                }
                (facts.sha256, facts.number.to_string(), title)
            }
            ItemKind::Event => {
                let et = s(art, "event_type").unwrap_or_default();
                if rules::event_kind(et).is_none()
                    || et == crate::format::rules::EventType::RecordCreated.as_str()
                {
                    return Err(OfflineError::UnknownKind {
                        path: format!("{p}.artifact.event_type"),
                        kind: et.into(),
                    });
                }
                let d = canon_sha256_without(art, &rules::EVENT_UNHASHED);
                let title = art
                    .get("payload")
                    .and_then(|x| x.get("graph_snapshot"))
                    .and_then(|g| g.get("paper"))
                    .and_then(|x| s(x, "title"))
                    .unwrap_or(et)
                    .to_owned();
                (
                    d,
                    s(art, "subject_pith_number").unwrap_or_default().to_owned(),
                    title,
                )
            }
            ItemKind::Bundle => {
                let d = crate::sign::bundle::bundle_sha256(art);
                let title = art
                    .get("events")
                    .and_then(Value::as_array)
                    .and_then(|evs| {
                        evs.iter().find_map(|e| {
                            e.get("payload")?
                                .get("graph_snapshot")?
                                .get("paper")?
                                .get("title")?
                                .as_str()
                                .map(str::to_owned)
                        })
                    })
                    .unwrap_or_default();
                (
                    d,
                    s(art, "pith_number").unwrap_or_default().to_owned(),
                    title,
                )
            }
        };
        if stated != digest.hex() {
            return Err(OfflineError::DigestMismatch {
                path: format!("{p}.digest"),
                stated: stated.into(),
                actual: digest.hex(),
            });
        }
        if subject != real_subject {
            return Err(OfflineError::DigestMismatch {
                path: format!("{p}.subject"),
                stated: subject,
                actual: real_subject,
            });
        }
        // the artifact must name the request's key where it names one
        let named = match kind {
            ItemKind::Bundle => None,
            ItemKind::RecordCreated | ItemKind::Event => art
                .get("signer")
                .and_then(|x| s(x, "public_key_fingerprint")),
        };
        if let Some(fp) = named
            && fp != key_fp
        {
            return Err(malformed(
                format!("{p}.artifact.signer.public_key_fingerprint"),
                &format!("the request's key {key_fp}"),
            ));
        }
        let protected = match kind {
            ItemKind::Bundle => protected_time(art, "built_at", &p)?,
            ItemKind::RecordCreated | ItemKind::Event => protected_time(art, "created_at", &p)?,
        };
        out.push(Checked {
            kind,
            digest,
            protected,
            subject: real_subject,
            title,
        });
    }
    Ok(out)
}

/// One signature made by the offline signer, for its audit log.
#[derive(Clone, Debug)]
pub struct Made {
    /// Item index.
    pub item: usize,
    /// What was signed (`signed_message` label).
    pub label: &'static str,
    /// The digest signed.
    pub digest: Sha256Digest,
    /// Its subject.
    pub subject: String,
}

/// Refuse a request the signer's audit log says was already signed (a replayed request
/// would make a second set of signatures for the same artifacts).
pub fn check_replay(log: &std::path::Path, request_id: &str) -> Result<(), OfflineError> {
    let entries = crate::sign::custody::read_log(log)?;
    if let Some(e) = entries.iter().find(|e| {
        e.get("details")
            .and_then(|d| d.get("request_id"))
            .and_then(Value::as_str)
            == Some(request_id)
    }) {
        return Err(OfflineError::Replay {
            request_id: request_id.into(),
            at: s(e, "at").unwrap_or("?").into(),
            log: log.display().to_string(),
        });
    }
    Ok(())
}

/// Sign a reviewed request on the offline machine: refuse a replay, make the
/// signatures, and append one signed entry per signature to the signer's audit log
/// before the response is returned (nothing signed goes unrecorded).
pub fn sign_logged(
    req: &Value,
    key: &Authorized,
    log: &std::path::Path,
    now: &Timestamp,
) -> Result<(Value, Vec<Made>), OfflineError> {
    let request_id = s(req, "request_id").unwrap_or_default().to_owned();
    check_replay(log, &request_id)?;
    let (response, made) = sign(req, key, now)?;
    for m in &made {
        let details = canon::object([
            ("request_id", request_id.as_str().into()),
            ("item", (m.item as u64).into()),
            ("signed_message", m.label.into()),
            ("digest", m.digest.hex().into()),
            ("subject", m.subject.as_str().into()),
        ]);
        crate::sign::custody::append_log(log, Domain::Audit, "sign", details, key.signer(), now)?;
    }
    Ok((response, made))
}

/// Sign a reviewed request: the response (signatures and request id only) and the list
/// of signatures made. Not logged: [`sign_logged`] is the signer's path.
fn sign(
    req: &Value,
    key: &Authorized,
    now: &Timestamp,
) -> Result<(Value, Vec<Made>), OfflineError> {
    review(req, &KeyRef::from(key))?;
    let checked = check_request(req)?;
    let items = req
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("$.items", "an array"))?;
    let mut sigs = Vec::new();
    let mut made = Vec::new();
    for (i, (it, c)) in items.iter().zip(&checked).enumerate() {
        let art = it.get("artifact").cloned().unwrap_or(Value::Null);
        let entry = match c.kind {
            ItemKind::RecordCreated => {
                let mut ev = art;
                let mut receipt = ev
                    .get("payload")
                    .and_then(|p| p.get("receipt"))
                    .cloned()
                    .unwrap_or(Value::Null);
                issue::sign_receipt(&mut receipt, key, &c.digest, &c.protected, now)?;
                if let Some(pl) = ev
                    .as_object_mut()
                    .and_then(|m| m.get_mut("payload"))
                    .and_then(Value::as_object_mut)
                {
                    pl.insert("receipt".into(), receipt.clone());
                }
                let content = issue::finish_event(&mut ev, key, now)?;
                made.push(Made {
                    item: i,
                    label: rules::LABEL_RECEIPT,
                    digest: c.digest,
                    subject: c.subject.clone(),
                });
                made.push(Made {
                    item: i,
                    label: rules::LABEL_EVENT,
                    digest: content,
                    subject: c.subject.clone(),
                });
                canon::object([
                    (
                        "receipt_signature_b64",
                        receipt.get("signature_b64").cloned().unwrap_or(Value::Null),
                    ),
                    (
                        "receipt_signed_at",
                        receipt.get("signed_at").cloned().unwrap_or(Value::Null),
                    ),
                    (
                        "signature",
                        ev.get("signature").cloned().unwrap_or(Value::Null),
                    ),
                ])
            }
            ItemKind::Event => {
                made.push(Made {
                    item: i,
                    label: rules::LABEL_EVENT,
                    digest: c.digest,
                    subject: c.subject.clone(),
                });
                canon::object([(
                    "signature",
                    key.signature_object(Domain::Event, &c.digest, &c.protected, now)?,
                )])
            }
            ItemKind::Bundle => {
                let sig = crate::sign::bundle::signature(key, &c.digest, &c.protected, now)?;
                made.push(Made {
                    item: i,
                    label: rules::LABEL_BUNDLE,
                    digest: c.digest,
                    subject: c.subject.clone(),
                });
                canon::object([("signature", sig)])
            }
        };
        sigs.push(entry);
    }
    let response = canon::object([
        ("response_type", RESPONSE_TYPE.into()),
        ("response_version", VERSION.into()),
        (
            "request_id",
            req.get("request_id").cloned().unwrap_or(Value::Null),
        ),
        (
            "key",
            canon::object([
                ("key_id", key.key_id().into()),
                ("public_key_fingerprint", key.public().fingerprint().into()),
            ]),
        ),
        ("signatures", Value::Array(sigs)),
    ]);
    Ok((response, made))
}

/// A signed artifact that applying a response produced, verified.
#[derive(Clone, Debug)]
pub enum Applied {
    /// An event (a `record_created` among them).
    Event(crate::verify::Verified<crate::model::Event>),
    /// A bundle.
    Bundle(crate::verify::Verified<crate::model::Bundle>),
}

impl Applied {
    /// The artifact.
    pub fn value(&self) -> &Value {
        match self {
            Applied::Event(e) => e.value(),
            Applied::Bundle(b) => b.value(),
        }
    }
}

/// Apply a response to its request: insert the signatures, verify every artifact against
/// `keyring`, and return the signed artifacts. Nothing is returned unless all verify.
pub fn apply(req: &Value, resp: &Value, keyring: &Keyring) -> Result<Vec<Applied>, OfflineError> {
    let checked = check_request(req)?;
    is_a(resp, "response_type", "a pith signing response, version 1")?;
    if s(resp, "response_type") != Some(RESPONSE_TYPE)
        || s(resp, "response_version") != Some(VERSION)
    {
        return Err(malformed(
            "$.response_type",
            "a pith signing response, version 1",
        ));
    }
    closed(resp, "$", &crate::model::RESPONSE)?;
    let rid = s(req, "request_id").unwrap_or_default();
    let got = s(resp, "request_id").unwrap_or("nothing");
    if got != rid {
        return Err(OfflineError::OtherRequest {
            response: got.into(),
            request: rid.into(),
        });
    }
    // the response must name the key the request named (its signatures are checked
    // against the keyring anyway; a changed key field is a damaged or forged response)
    let (want, have) = (req.get("key"), resp.get("key"));
    let fp = |k: Option<&Value>| {
        k.and_then(|k| s(k, "public_key_fingerprint"))
            .map(str::to_owned)
    };
    let id = |k: Option<&Value>| k.and_then(|k| s(k, "key_id")).map(str::to_owned);
    if fp(want) != fp(have) || id(want) != id(have) {
        return Err(OfflineError::WrongKey {
            wanted: id(want).unwrap_or_default(),
            wanted_fp: fp(want).unwrap_or_default(),
            have: id(have).unwrap_or_else(|| "nothing".into()),
            have_fp: fp(have).unwrap_or_else(|| "nothing".into()),
        });
    }
    let items = req
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("$.items", "an array"))?;
    let sigs = resp
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("$.signatures", "an array of signatures"))?;
    if sigs.len() != items.len() {
        return Err(malformed(
            "$.signatures",
            &format!(
                "{} signatures, one per request item (found {})",
                items.len(),
                sigs.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for (i, ((it, c), sg)) in items.iter().zip(&checked).zip(sigs).enumerate() {
        let mut art = it.get("artifact").cloned().unwrap_or(Value::Null);
        let signature = sg.get("signature").cloned().ok_or_else(|| {
            malformed(format!("$.signatures[{i}].signature"), "a signature object")
        })?;
        match c.kind {
            ItemKind::RecordCreated => {
                if let Some(r) = art
                    .as_object_mut()
                    .and_then(|m| m.get_mut("payload"))
                    .and_then(Value::as_object_mut)
                    .and_then(|p| p.get_mut("receipt"))
                    .and_then(Value::as_object_mut)
                {
                    r.insert(
                        "signature_b64".into(),
                        sg.get("receipt_signature_b64")
                            .cloned()
                            .unwrap_or(Value::Null),
                    );
                    r.insert(
                        "signed_at".into(),
                        sg.get("receipt_signed_at").cloned().unwrap_or(Value::Null),
                    );
                }
                let content = issue::content_sha256(&art);
                issue::seal_event(&mut art, &content, signature);
            }
            ItemKind::Event => {
                issue::seal_event(&mut art, &c.digest, signature);
            }
            ItemKind::Bundle => {
                if let Some(m) = art.as_object_mut() {
                    m.insert("bundle_signature".into(), signature);
                }
            }
        }
        let first = |r: Box<crate::verify::Report>| OfflineError::DoesNotVerify {
            item: i,
            first: r
                .failures
                .first()
                .map_or_else(|| "does not verify".to_owned(), ToString::to_string),
        };
        out.push(match c.kind {
            ItemKind::Bundle => {
                Applied::Bundle(crate::verify::verify_bundle(art, keyring).map_err(first)?)
            }
            ItemKind::RecordCreated | ItemKind::Event => {
                Applied::Event(crate::verify::verify_event(art, keyring).map_err(first)?)
            }
        });
    }
    Ok(out)
}
