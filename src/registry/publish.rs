//! The static resolver tree the registry serves.
//!
//! ```text
//! pith/{CODE}/bundle.json  pith/{CODE}/state.json  .well-known/pith/{CODE}/bundle.json
//! pith/{CODE}/index.html   index.html
//! pith-signing-key.json    keys/{key_id}.json      pith-mirrors.json
//! ```
//! Output is a pure function of the inputs (no clock): a file is rewritten, atomically,
//! only when its bytes change, so updating one paper rewrites only its files.

use std::path::{Path, PathBuf};

use crate::format::canon::{self, Value};
use crate::format::rules;
use crate::format::time::Timestamp;
use crate::io::{IoError, write_atomic};
use crate::model::Bundle;
use crate::trust::keys::KeyWindow;
use crate::verify::Verified;
use crate::verify::keyring::Keyring;

/// What publishing did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Published {
    /// Files written (new or changed).
    pub written: Vec<String>,
    /// Files already up to date.
    pub unchanged: usize,
}

/// The mirror manifest (`pith-mirrors.json`) in the registry's published shape.
pub fn manifest(base_url: &str, key_doc: &Value, generated_at: &Timestamp) -> Value {
    let base = base_url.trim_end_matches('/');
    canon::object([
        ("manifest_type", "pith_mirror_manifest".into()),
        ("manifest_version", "1.0".into()),
        ("generated_at", generated_at.fmt_seconds().into()),
        ("merge_version", rules::MERGE_VERSION.into()),
        (
            "mirrors",
            Value::Array(vec![canon::object([
                ("name", rules::MIRROR_NAME.into()),
                ("mirror_type", "https".into()),
                ("base_url", base.into()),
                ("bundle_pattern", format!("{base}/pith/{{suffix}}/bundle.json").into()),
                ("state_pattern", format!("{base}/pith/{{suffix}}/state.json").into()),
                ("well_known_pattern", format!("{base}/.well-known/pith/{{suffix}}/bundle.json").into()),
                ("public_key", key_doc.clone()),
                ("status", "primary".into()),
            ])]),
        ),
        ("notes", "Every bundle is signed; verify it offline against the registry's public key, never against keys a bundle carries.".into()),
    ])
}

fn bytes(v: &Value) -> Vec<u8> {
    let mut b = canon::to_canonical(v);
    b.push(b'\n');
    b
}

/// Why publishing stopped. Nothing after the refused bundle is written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A bundle would move a served paper back.
    #[error("{number}: not publishing a bundle that would roll the served paper back: {why}")]
    Rollback {
        /// The paper.
        number: String,
        /// What would be lost.
        why: String,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] crate::registry::ledger::LedgerError),
    /// A bundle stored in the ledger does not verify with the keyring.
    #[error("{number}: the bundle stored in the registry does not verify: {why}")]
    Unverified {
        /// The paper.
        number: String,
        /// The first failure.
        why: String,
    },
    /// The log cannot be served: its newest checkpoint does not verify, or the served log
    /// is not a prefix of the ledger's (a rollback or a fork).
    #[error("the log: {0}")]
    Log(String),
    /// The tree's root exists and is not a directory.
    #[error("{}: is not a directory; publish writes a tree of files under its --out directory", path.display())]
    NotADirectory {
        /// The root.
        path: std::path::PathBuf,
    },
    /// A directory of the tree is a symbolic link (writing through it would leave the tree).
    #[error("{}: is a symbolic link; publish writes only inside its own tree", path.display())]
    Link {
        /// The link.
        path: PathBuf,
    },
}

/// Refuse to write through a symbolic link anywhere between `out` and `rel`'s file.
fn no_links(out: &Path, rel: &str) -> Result<(), PublishError> {
    let mut p = out.to_path_buf();
    for part in Path::new(rel).components() {
        p.push(part);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(PublishError::Link { path: p });
        }
    }
    Ok(())
}

/// What the tree serves now for a paper: its event ids and `built_at`.
fn served(out: &Path, code: &str) -> Option<(Vec<String>, Timestamp)> {
    let bytes = crate::io::read_input(&out.join(format!("pith/{code}/bundle.json"))).ok()?;
    let v = canon::parse(&bytes).ok()?;
    let built = v
        .get("built_at")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)?;
    let ids = v
        .get("events")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("event_id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    Some((ids, built))
}

/// A served paper never moves back (decided): the new bundle must hold every event the
/// served one holds and be built no earlier.
fn check_forward(out: &Path, b: &Bundle) -> Result<(), PublishError> {
    let Some((ids, built)) = served(out, &b.number().code) else {
        return Ok(());
    };
    let have: std::collections::HashSet<&str> = b.event_ids().iter().map(String::as_str).collect();
    let lost: Vec<&String> = ids
        .iter()
        .filter(|id| !have.contains(id.as_str()))
        .collect();
    if !lost.is_empty() {
        return Err(PublishError::Rollback {
            number: b.number().to_string(),
            why: format!(
                "{} served event(s) missing from it, first {}",
                lost.len(),
                lost[0]
            ),
        });
    }
    if b.built_at().micros() < built.micros() {
        return Err(PublishError::Rollback {
            number: b.number().to_string(),
            why: format!(
                "it was built at {}, before the served bundle ({built})",
                b.built_at()
            ),
        });
    }
    Ok(())
}

fn put(out: &Path, rel: &str, data: &[u8], done: &mut Published) -> Result<(), PublishError> {
    no_links(out, rel)?;
    let path: PathBuf = out.join(rel);
    if std::fs::read(&path).is_ok_and(|old| old == data) {
        done.unchanged += 1;
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| IoError::Write {
            path: dir.into(),
            source,
        })?;
    }
    write_atomic(&path, data, true, Some(0o644))?;
    done.written.push(rel.to_owned());
    Ok(())
}

/// The tree's root is a directory or does not exist yet (created on the first write).
fn root_ok(out: &Path) -> Result<(), PublishError> {
    match std::fs::metadata(out) {
        Ok(m) if !m.is_dir() => Err(PublishError::NotADirectory { path: out.into() }),
        _ => Ok(()),
    }
}

/// Write the resolver tree for verified `bundles` into `out`.
///
/// Paths come from each bundle's verified Pith number, never from its JSON; only the
/// verification path makes a [`Verified`] bundle, so an unverified value cannot be
/// published:
///
/// ```compile_fail
/// # let ring = pith::verify::keyring::Keyring::new();
/// let v = pith::format::canon::parse(b"{}").unwrap();
/// pith::registry::publish::publish(&[v], &ring, "https://x", std::path::Path::new("o"));
/// ```
///
/// `pith-signing-key.json` is the document of the key that signed the newest bundle when
/// it is active now in the keyring, else of any active key; `generated_at` is the newest
/// `built_at`.
pub fn publish(
    bundles: &[Verified<Bundle>],
    keyring: &Keyring,
    base_url: &str,
    out: &Path,
) -> Result<Published, PublishError> {
    root_ok(out)?;
    let mut done = Published::default();
    let mut newest: Option<(Timestamp, String)> = None;
    for b in bundles {
        let code = &b.number().code;
        // checked against the tree as it stands, so also against a bundle of this run
        check_forward(out, b)?;
        let data = bytes(b.value());
        put(out, &format!("pith/{code}/bundle.json"), &data, &mut done)?;
        put(
            out,
            &format!(".well-known/pith/{code}/bundle.json"),
            &data,
            &mut done,
        )?;
        if let Some(st) = b.state() {
            put(
                out,
                &format!("pith/{code}/state.json"),
                &bytes(st),
                &mut done,
            )?;
        }
        put(
            out,
            &format!("pith/{code}/index.html"),
            crate::registry::pages::paper(b, base_url).as_bytes(),
            &mut done,
        )?;
        let t = *b.built_at();
        if newest.as_ref().is_none_or(|(n, _)| t.micros() > n.micros()) {
            newest = Some((t, b.signer().to_owned()));
        }
    }
    for k in keyring.iter() {
        put(
            out,
            &format!("keys/{}.json", k.doc.key_id),
            &bytes(&k.doc.raw),
            &mut done,
        )?;
    }
    let now = Timestamp::now();
    let active = newest
        .as_ref()
        .and_then(|(_, fp)| keyring.get(fp))
        .filter(|k| k.window_at(&now) == KeyWindow::Valid)
        .or_else(|| {
            keyring
                .iter()
                .find(|k| k.window_at(&now) == KeyWindow::Valid)
        });
    if let Some(k) = active {
        put(out, "pith-signing-key.json", &bytes(&k.doc.raw), &mut done)?;
        put(
            out,
            "index.html",
            crate::registry::pages::site(base_url, &k.doc.raw).as_bytes(),
            &mut done,
        )?;
        // generated_at never goes back either
        let served = crate::io::read_input(&out.join("pith-mirrors.json"))
            .ok()
            .and_then(|b| canon::parse(&b).ok())
            .and_then(|m| {
                m.get("generated_at")
                    .and_then(Value::as_str)
                    .and_then(Timestamp::parse)
            });
        let mut generated = newest.map_or(now, |(t, _)| t);
        if let Some(s) = served
            && s.micros() > generated.micros()
        {
            generated = s;
        }
        put(
            out,
            "pith-mirrors.json",
            &bytes(&manifest(base_url, &k.doc.raw, &generated)),
            &mut done,
        )?;
    }
    Ok(done)
}

/// Bundles verified and published per page of the store.
const PAGE: usize = 500;

/// Publish from the registry store (`publish --registry`): every paper's newest stored
/// bundle not yet in the tree, verified with `keyring`, page by page in bounded memory.
///
/// The ledger notes after each page how far the tree reaches, so the next run writes only
/// what was stored since, and a run stopped midway resumes where it stopped.
pub fn publish_from_store(
    ledger: &mut crate::registry::ledger::Ledger,
    keyring: &Keyring,
    base_url: &str,
    out: &Path,
) -> Result<(Published, usize, Option<LogServed>), PublishError> {
    root_ok(out)?;
    let mut done = Published::default();
    let mut papers = 0;
    let mut after = ledger.published_seq()?;
    loop {
        let page = ledger.bundles_page(after, PAGE)?;
        let Some((top, _)) = page.last() else { break };
        let top = *top;
        let mut verified = Vec::with_capacity(page.len());
        for (_, v) in page {
            let number = v
                .get("pith_number")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let b =
                crate::verify::verify_bundle(v, keyring).map_err(|r| PublishError::Unverified {
                    number,
                    why: r
                        .failures
                        .first()
                        .map_or_else(|| "does not verify".into(), ToString::to_string),
                })?;
            verified.push(b);
        }
        papers += verified.len();
        let d = publish(&verified, keyring, base_url, out)?;
        done.written.extend(d.written);
        done.unchanged += d.unchanged;
        ledger.mark_published(top)?;
        after = top;
    }
    let log = publish_log(ledger, keyring, out, &mut done)?;
    Ok((done, papers, log))
}

/// What [`publish_log`] served.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LogServed {
    /// The log's origin.
    pub origin: String,
    /// The tree size of the served checkpoint.
    pub tree_size: u64,
    /// The tree size served before.
    pub served_before: u64,
    /// Leaves of the ledger's log beyond the served checkpoint (events stored since it
    /// was signed, which a monitor cannot yet find in the log).
    pub unsigned_leaves: u64,
}

/// Serve the log beside the resolver tree (`log/`, C2SP tlog-tiles, `registry::tiles`):
/// the tiles of the newest checkpoint kept in the ledger that the served tree lacks, the
/// leaf indices of each paper with new leaves (`pith/<code>/log.json`), and last the
/// checkpoint itself, so a reader never sees a checkpoint whose tiles are missing.
///
/// The served log never moves back: a served checkpoint larger than the new one, of
/// another origin, or whose tree is not this ledger's at its size, is refused.
pub fn publish_log(
    ledger: &crate::registry::ledger::Ledger,
    keyring: &Keyring,
    out: &Path,
    done: &mut Published,
) -> Result<Option<LogServed>, PublishError> {
    use crate::format::note::{Checkpoint, Note};
    use crate::registry::tiles;
    let Some((origin, size, note)) = ledger.log_last_checkpoint()? else {
        return Ok(None);
    };
    crate::verify::checkpoint::verify_checkpoint(
        note.as_bytes(),
        keyring,
        &origin,
        &Timestamp::now(),
    )
    .map_err(|e| PublishError::Log(format!("the newest checkpoint kept does not verify: {e}")))?;
    let all = ledger.log_leaf_hashes()?;
    let leaves = all.get(..size as usize).ok_or_else(|| {
        PublishError::Log(format!(
            "the checkpoint of {size} leaves is beyond the ledger's log"
        ))
    })?;
    let served_path = out.join("log/checkpoint");
    let from = match std::fs::symlink_metadata(&served_path) {
        Err(_) => 0,
        Ok(_) => {
            let bytes = crate::io::read_input(&served_path)?;
            let served = Note::parse(&bytes)
                .and_then(|n| Checkpoint::parse_body(&n.body))
                .map_err(|e| {
                    PublishError::Log(format!(
                        "{}: the served checkpoint is unreadable: {e}",
                        served_path.display()
                    ))
                })?;
            if served.origin() != origin {
                return Err(PublishError::Log(format!(
                    "the tree serves log {:?}, the ledger's is {origin:?}",
                    served.origin()
                )));
            }
            if served.size() > size {
                return Err(PublishError::Log(format!(
                    "the tree serves a checkpoint of {} leaves; refusing to move it back to {size}",
                    served.size()
                )));
            }
            if crate::registry::merkle::root(&leaves[..served.size() as usize]) != *served.root() {
                return Err(PublishError::Log(format!(
                    "the served checkpoint of {} leaves is not this ledger's tree at that size (a fork)",
                    served.size()
                )));
            }
            served.size()
        }
    };
    for (path, data) in tiles::hash_tiles(leaves, from) {
        put(out, &format!("log/{path}"), &data, done)?;
    }
    let w = tiles::TILE_WIDTH;
    for n in (from / w)..size.div_ceil(w) {
        let lo = n * w;
        let width = (size - lo).min(w);
        if lo + width <= from {
            continue;
        }
        let entries = ledger.log_entries(lo, lo + width)?;
        let data = tiles::entry_bundle(entries.iter().map(|e| e.as_bytes()))
            .ok_or_else(|| PublishError::Log(format!("an entry of tile {n} is over 64 KiB")))?;
        put(
            out,
            &format!("log/{}", tiles::tile_path(None, n, width)),
            &data,
            done,
        )?;
    }
    for (subject, leaves) in ledger.log_papers_touched(from, size)? {
        let Some(number) = crate::format::digest::PithNumber::parse(&subject) else {
            continue;
        };
        let doc = canon::object([
            (
                "log_leaves",
                Value::Array(
                    leaves
                        .iter()
                        .map(|(id, i)| {
                            canon::object([
                                ("event_id", id.as_str().into()),
                                ("leaf_index", (*i).into()),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("origin", origin.as_str().into()),
        ]);
        put(
            out,
            &format!("pith/{}/log.json", number.code),
            &bytes(&doc),
            done,
        )?;
    }
    put(out, "log/checkpoint", note.as_bytes(), done)?;
    Ok(Some(LogServed {
        origin,
        tree_size: size,
        served_before: from,
        unsigned_leaves: all.len() as u64 - size,
    }))
}
