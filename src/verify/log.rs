//! Proofs that a bundle's events are in the log: the inclusion-proof document `pith log
//! prove` writes (**decided**, `rules::LOG_PROOF_TYPE`), read with a closed schema and
//! checked against a verified checkpoint, never against the document's own root.

use crate::format::canon::{self, Value};
use crate::format::digest::Sha256Digest;
use crate::format::note;
use crate::format::rules;
use crate::registry::merkle;
use crate::trust::keys::{b64_decode, b64_encode};
use crate::verify::Verified;
use crate::verify::checkpoint::SignedCheckpoint;

/// One leaf and its inclusion path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafProof {
    /// Leaf index.
    pub index: u64,
    /// The entry's canonical bytes.
    pub entry: Vec<u8>,
    /// The inclusion path, leaf to root (RFC 9162 §2.1.3).
    pub path: Vec<Sha256Digest>,
}

/// Inclusion proofs of some leaves in the tree of one size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProofs {
    /// Tree size.
    pub size: u64,
    /// Tree head the paths lead to.
    pub root: Sha256Digest,
    /// The leaves.
    pub leaves: Vec<LeafProof>,
}

/// A consistency proof from the tree of `old_size` leaves to the tree of `size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older size.
    pub old_size: u64,
    /// The newer size.
    pub size: u64,
    /// The newer tree's head.
    pub root: Sha256Digest,
    /// The proof (RFC 9162 §2.1.4).
    pub path: Vec<Sha256Digest>,
}

impl ConsistencyProof {
    /// The document, canonical JSON: `{"old_size", "path_b64", "proof_type", "root_b64",
    /// "tree_size"}`.
    pub fn to_value(&self) -> Value {
        canon::object([
            ("old_size", self.old_size.into()),
            (
                "path_b64",
                Value::Array(self.path.iter().map(|h| b64_encode(&h.0).into()).collect()),
            ),
            ("proof_type", rules::LOG_CONSISTENCY_TYPE.into()),
            ("root_b64", b64_encode(&self.root.0).into()),
            ("tree_size", self.size.into()),
        ])
    }

    /// Read a consistency-proof document, closed schema.
    pub fn from_value(v: &Value) -> Result<Self, ProofError> {
        let obj = v
            .as_object()
            .ok_or_else(|| bad("$: expected a consistency proof object"))?;
        closed(
            obj,
            "$",
            &[
                "old_size",
                "path_b64",
                "proof_type",
                "root_b64",
                "tree_size",
            ],
        )?;
        if obj.get("proof_type").and_then(Value::as_str) != Some(rules::LOG_CONSISTENCY_TYPE) {
            return Err(bad(format!(
                "$.proof_type: expected {:?}",
                rules::LOG_CONSISTENCY_TYPE
            )));
        }
        let path = obj
            .get("path_b64")
            .and_then(Value::as_array)
            .filter(|p| p.len() <= 128)
            .ok_or_else(|| bad("$.path_b64: expected an array of at most 128 hashes"))?
            .iter()
            .enumerate()
            .map(|(j, h)| hash(Some(h), &format!("$.path_b64[{j}]")))
            .collect::<Result<_, _>>()?;
        Ok(ConsistencyProof {
            old_size: uint(obj.get("old_size"), "$.old_size")?,
            size: uint(obj.get("tree_size"), "$.tree_size")?,
            root: hash(obj.get("root_b64"), "$.root_b64")?,
            path,
        })
    }
}

/// Why a proof document or a bundle's inclusion was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

fn bad(s: impl Into<String>) -> ProofError {
    ProofError(s.into())
}

impl InclusionProofs {
    /// The document, canonical JSON: `{"leaves": [{"entry", "leaf_index", "path_b64"}],
    /// "proof_type", "root_b64", "tree_size"}`.
    pub fn to_value(&self) -> Value {
        let leaves: Vec<Value> = self
            .leaves
            .iter()
            .map(|l| {
                let entry = canon::parse(&l.entry).unwrap_or(Value::Null);
                canon::object([
                    ("entry", entry),
                    ("leaf_index", l.index.into()),
                    (
                        "path_b64",
                        Value::Array(l.path.iter().map(|h| b64_encode(&h.0).into()).collect()),
                    ),
                ])
            })
            .collect();
        canon::object([
            ("leaves", Value::Array(leaves)),
            ("proof_type", rules::LOG_PROOF_TYPE.into()),
            ("root_b64", b64_encode(&self.root.0).into()),
            ("tree_size", self.size.into()),
        ])
    }

    /// Read a proof document: exactly its fields, every hash 32 bytes of padded base64,
    /// at most 64 path elements, entries of the decided event kind.
    pub fn from_value(v: &Value) -> Result<Self, ProofError> {
        let obj = v
            .as_object()
            .ok_or_else(|| bad("$: expected a log proof object"))?;
        closed(obj, "$", &["leaves", "proof_type", "root_b64", "tree_size"])?;
        if obj.get("proof_type").and_then(Value::as_str) != Some(rules::LOG_PROOF_TYPE) {
            return Err(bad(format!(
                "$.proof_type: expected {:?}",
                rules::LOG_PROOF_TYPE
            )));
        }
        let size = uint(obj.get("tree_size"), "$.tree_size")?;
        let root = hash(obj.get("root_b64"), "$.root_b64")?;
        let arr = obj
            .get("leaves")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("$.leaves: expected an array"))?;
        let mut leaves = Vec::with_capacity(arr.len());
        for (i, l) in arr.iter().enumerate() {
            let at = format!("$.leaves[{i}]");
            let lo = l
                .as_object()
                .ok_or_else(|| bad(format!("{at}: expected an object")))?;
            closed(lo, &at, &["entry", "leaf_index", "path_b64"])?;
            let entry = lo
                .get("entry")
                .filter(|e| {
                    e.get("entry_type").and_then(Value::as_str) == Some(rules::LOG_ENTRY_EVENT)
                })
                .ok_or_else(|| {
                    bad(format!(
                        "{at}.entry: expected an entry of type {:?}",
                        rules::LOG_ENTRY_EVENT
                    ))
                })?;
            let index = uint(lo.get("leaf_index"), &format!("{at}.leaf_index"))?;
            let path_v = lo
                .get("path_b64")
                .and_then(Value::as_array)
                .filter(|p| p.len() <= 64)
                .ok_or_else(|| {
                    bad(format!(
                        "{at}.path_b64: expected an array of at most 64 hashes"
                    ))
                })?;
            let path = path_v
                .iter()
                .enumerate()
                .map(|(j, h)| hash(Some(h), &format!("{at}.path_b64[{j}]")))
                .collect::<Result<_, _>>()?;
            leaves.push(LeafProof {
                index,
                entry: canon::to_canonical(entry),
                path,
            });
        }
        Ok(InclusionProofs { size, root, leaves })
    }
}

fn closed(obj: &canon::Map, at: &str, fields: &[&str]) -> Result<(), ProofError> {
    if let Some(k) = obj.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(bad(format!(
            "{at}: unexpected field {:?} (a log proof has {})",
            crate::format::text::visible(k),
            fields.join(", ")
        )));
    }
    if let Some(k) = fields.iter().find(|k| !obj.contains_key(**k)) {
        return Err(bad(format!("{at}: missing field {k:?}")));
    }
    Ok(())
}

fn uint(v: Option<&Value>, at: &str) -> Result<u64, ProofError> {
    v.and_then(Value::as_int)
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| bad(format!("{at}: expected a non-negative integer")))
}

fn hash(v: Option<&Value>, at: &str) -> Result<Sha256Digest, ProofError> {
    v.and_then(Value::as_str)
        .and_then(|s| b64_decode(s).filter(|b| b64_encode(b) == s))
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .map(Sha256Digest)
        .ok_or_else(|| bad(format!("{at}: expected 32 bytes in padded base64")))
}

/// Check that every event of `bundle` is a leaf of the checkpoint's tree: each event's
/// entry must be among `proofs`, whose paths must lead to the checkpoint's root at its
/// size. Returns the leaf index of each event, in the bundle's order.
pub fn bundle_in_log(
    bundle: &Verified<crate::model::Bundle>,
    checkpoint: &Verified<SignedCheckpoint>,
    proofs: &InclusionProofs,
) -> Result<Vec<(String, u64)>, ProofError> {
    let cp = &checkpoint.checkpoint;
    if proofs.size != cp.size() || proofs.root != *cp.root() {
        return Err(bad(format!(
            "the proofs are for a tree of {} leaves with another head than the checkpoint's tree of {}; prove against the checkpoint's tree",
            proofs.size,
            cp.size()
        )));
    }
    let events = bundle
        .value()
        .get("events")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(events.len());
    for ev in events {
        let id = ev
            .get("event_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let entry = note::event_entry_of(ev);
        let leaf = merkle::leaf_hash(&entry);
        let found = proofs.leaves.iter().find(|l| {
            l.entry == entry
                && merkle::verify_inclusion(l.index, cp.size(), &leaf, &l.path, cp.root())
        });
        match found {
            Some(l) => out.push((id, l.index)),
            None => {
                return Err(bad(format!(
                    "event {id} (with this signature) is not proved to be in the log's tree of {} leaves",
                    cp.size()
                )));
            }
        }
    }
    Ok(out)
}

/// A served log directory (`publish`'s `log/`) read for one tree size: tiles fetched as
/// the proofs need them, each checked for its exact length; nothing in them is trusted
/// but what hashes to the checkpoint's root.
struct Tiles<'a> {
    dir: &'a std::path::Path,
    size: u64,
    cache: std::collections::HashMap<(Option<u32>, u64), Vec<u8>>,
}

impl Tiles<'_> {
    /// Tile `n` at `level` (None: entries) as the tree of `size` serves it.
    fn tile(&mut self, level: Option<u32>, n: u64) -> Result<&[u8], ProofError> {
        use crate::registry::tiles::{TILE_WIDTH, tile_path};
        if !self.cache.contains_key(&(level, n)) {
            let span = rules::TILE_HEIGHT * level.unwrap_or(0);
            let nodes = self.size >> span;
            let width = nodes
                .checked_sub(n * TILE_WIDTH)
                .filter(|w| *w > 0)
                .ok_or_else(|| bad(format!("tile {n} of level {level:?} is beyond the tree")))?
                .min(TILE_WIDTH);
            let rel = tile_path(level, n, width);
            let path = self.dir.join(&rel);
            let data = crate::io::read_input(&path)
                .map_err(|e| bad(format!("the log's tile {rel}: {e}")))?;
            if level.is_some() && data.len() as u64 != width * 32 {
                return Err(bad(format!(
                    "the log's tile {rel}: {} bytes, expected {}",
                    data.len(),
                    width * 32
                )));
            }
            self.cache.insert((level, n), data);
        }
        Ok(&self.cache[&(level, n)])
    }

    /// The hash of leaves `start..start + 2^height`, from one tile.
    fn perfect(&mut self, start: u64, height: u32) -> Result<Sha256Digest, ProofError> {
        let (level, up) = (height / rules::TILE_HEIGHT, height % rules::TILE_HEIGHT);
        let first = start >> (rules::TILE_HEIGHT * level);
        let (n, off) = (first >> rules::TILE_HEIGHT, (first & 0xff) as usize);
        let tile = self.tile(Some(level), n)?;
        let hashes: Vec<Sha256Digest> = tile
            .get(off * 32..(off + (1 << up)) * 32)
            .ok_or_else(|| bad(format!("tile {n} of level {level} is too short")))?
            .chunks_exact(32)
            .map(|c| Sha256Digest(c.try_into().unwrap_or([0; 32])))
            .collect();
        Ok(merkle::root(&hashes))
    }

    /// The entry of leaf `index`.
    fn entry(&mut self, index: u64) -> Result<Vec<u8>, ProofError> {
        let (n, off) = (index >> rules::TILE_HEIGHT, (index & 0xff) as usize);
        let width = (self.size - n * crate::registry::tiles::TILE_WIDTH)
            .min(crate::registry::tiles::TILE_WIDTH);
        let data = self.tile(None, n)?;
        let entries = crate::registry::tiles::read_entry_bundle(data, width)
            .ok_or_else(|| bad(format!("the log's entry tile {n} is not {width} entries")))?;
        Ok(entries[off].to_vec())
    }
}

/// Check that every event of `bundle` is a leaf of the checkpoint's tree as a published
/// tree serves it: the leaf indices come from `<tree>/pith/<code>/log.json` (a hint), each
/// entry from the entry tiles, and the inclusion proof from the hash tiles of
/// `<tree>/log/`, verified against the checkpoint's root.
pub fn bundle_in_tiles(
    bundle: &Verified<crate::model::Bundle>,
    checkpoint: &Verified<SignedCheckpoint>,
    tree: &std::path::Path,
) -> Result<Vec<(String, u64)>, ProofError> {
    let cp = &checkpoint.checkpoint;
    let hint_path = tree.join(format!("pith/{}/log.json", bundle.number().code));
    let hint = crate::io::read_input(&hint_path)
        .map_err(|e| bad(format!("the paper's leaf indices: {e}")))?;
    let hint =
        canon::parse(&hint).map_err(|e| bad(format!("{}: not JSON {e}", hint_path.display())))?;
    let obj = hint
        .as_object()
        .ok_or_else(|| bad(format!("{}: expected an object", hint_path.display())))?;
    closed(obj, "$", &["log_leaves", "origin"])?;
    if obj.get("origin").and_then(Value::as_str) != Some(cp.origin()) {
        return Err(bad(format!(
            "{}: $.origin is not the checkpoint's log {:?}",
            hint_path.display(),
            cp.origin()
        )));
    }
    let mut indices: Vec<(String, u64)> = Vec::new();
    for (i, l) in obj
        .get("log_leaves")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("$.log_leaves: expected an array"))?
        .iter()
        .enumerate()
    {
        let at = format!("$.log_leaves[{i}]");
        let lo = l
            .as_object()
            .ok_or_else(|| bad(format!("{at}: expected an object")))?;
        closed(lo, &at, &["event_id", "leaf_index"])?;
        let id = lo
            .get("event_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{at}.event_id: expected a string")))?;
        indices.push((
            id.to_owned(),
            uint(lo.get("leaf_index"), &format!("{at}.leaf_index"))?,
        ));
    }
    let mut tiles = Tiles {
        dir: &tree.join("log"),
        size: cp.size(),
        cache: Default::default(),
    };
    let events = bundle
        .value()
        .get("events")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(events.len());
    for ev in events {
        let id = ev
            .get("event_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let entry = note::event_entry_of(ev);
        let leaf = merkle::leaf_hash(&entry);
        let mut found = None;
        for (_, index) in indices.iter().filter(|(i, ix)| i == id && *ix < cp.size()) {
            if tiles.entry(*index)? != entry {
                continue;
            }
            let path =
                merkle::inclusion_proof_by(*index, cp.size(), &mut |s, h| tiles.perfect(s, h))?
                    .unwrap_or_default();
            if merkle::verify_inclusion(*index, cp.size(), &leaf, &path, cp.root()) {
                found = Some(*index);
                break;
            }
            return Err(bad(format!(
                "event {id}: the served tiles do not lead from leaf {index} to the checkpoint's root"
            )));
        }
        match found {
            Some(i) => out.push((id.to_owned(), i)),
            None => {
                return Err(bad(format!(
                    "event {id} (with this signature) is not among the paper's leaves in the log's tree of {} leaves",
                    cp.size()
                )));
            }
        }
    }
    Ok(out)
}
