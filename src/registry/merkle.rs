//! The Merkle tree of RFC 9162 §2.1, for the registry's transparency log: leaf and node
//! hashes, the tree head, inclusion and consistency proofs and their verification.
//!
//! Leaves are `SHA-256(0x00 ‖ entry)`, nodes `SHA-256(0x01 ‖ left ‖ right)`, and a tree of
//! `n > 1` leaves splits at the largest power of two below `n`; so a tree only ever grows
//! at its right edge, and a consistency proof shows an older head is a prefix of a newer.

use sha2::{Digest as _, Sha256};

use crate::format::digest::Sha256Digest;

/// `SHA-256(0x00 ‖ entry)` (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Sha256Digest(h.finalize().into())
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Sha256Digest, right: &Sha256Digest) -> Sha256Digest {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Sha256Digest(h.finalize().into())
}

/// The largest power of two below `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The tree head of `leaves` (leaf hashes): `SHA-256()` for none.
pub fn root(leaves: &[Sha256Digest]) -> Sha256Digest {
    if leaves.is_empty() {
        return Sha256Digest(Sha256::digest([]).into());
    }
    // the right edge folded in from a stack of perfect subtrees, as the tree grows
    let mut stack: Vec<(Sha256Digest, usize)> = Vec::new();
    for l in leaves {
        let mut node = (*l, 1usize);
        while let Some(&(top, size)) = stack.last() {
            if size != node.1 {
                break;
            }
            stack.pop();
            node = (node_hash(&top, &node.0), size * 2);
        }
        stack.push(node);
    }
    let mut acc = stack.pop().map(|(h, _)| h).unwrap_or(Sha256Digest([0; 32]));
    while let Some((h, _)) = stack.pop() {
        acc = node_hash(&h, &acc);
    }
    acc
}

/// The inclusion proof of leaf `index` in the tree of `leaves` (RFC 9162 §2.1.3.1), or
/// None when `index` is not a leaf of it.
pub fn inclusion_proof(index: usize, leaves: &[Sha256Digest]) -> Option<Vec<Sha256Digest>> {
    (index < leaves.len()).then(|| {
        let mut out = Vec::new();
        path(index, leaves, &mut out);
        out
    })
}

fn path(m: usize, d: &[Sha256Digest], out: &mut Vec<Sha256Digest>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root(&d[..k]));
    }
}

/// The head of the tree of `size` leaves, from a source of perfect subtree hashes
/// `perfect(start, height)` (the hash of leaves `start..start + 2^height`, such as a tile
/// reader gives): equal to [`root`] over the same leaves.
pub fn root_by<E>(
    size: u64,
    perfect: &mut dyn FnMut(u64, u32) -> Result<Sha256Digest, E>,
) -> Result<Sha256Digest, E> {
    if size == 0 {
        return Ok(Sha256Digest(Sha256::digest([]).into()));
    }
    range_root(0, size, perfect)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves from perfect subtree
/// hashes (see [`root_by`]): equal to [`inclusion_proof`]; None when `index >= size`.
pub fn inclusion_proof_by<E>(
    index: u64,
    size: u64,
    perfect: &mut dyn FnMut(u64, u32) -> Result<Sha256Digest, E>,
) -> Result<Option<Vec<Sha256Digest>>, E> {
    if index >= size {
        return Ok(None);
    }
    let mut out = Vec::new();
    path_by(index, 0, size, perfect, &mut out)?;
    Ok(Some(out))
}

fn split64(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// The head of leaves `lo..hi` of a tree, where `lo` is where the tree's own split puts a
/// subtree (a multiple of the largest power of two not above `hi - lo`).
fn range_root<E>(
    lo: u64,
    hi: u64,
    perfect: &mut dyn FnMut(u64, u32) -> Result<Sha256Digest, E>,
) -> Result<Sha256Digest, E> {
    let n = hi - lo;
    if n.is_power_of_two() {
        return perfect(lo, n.trailing_zeros());
    }
    let k = split64(n);
    let l = range_root(lo, lo + k, perfect)?;
    let r = range_root(lo + k, hi, perfect)?;
    Ok(node_hash(&l, &r))
}

fn path_by<E>(
    m: u64,
    lo: u64,
    hi: u64,
    perfect: &mut dyn FnMut(u64, u32) -> Result<Sha256Digest, E>,
    out: &mut Vec<Sha256Digest>,
) -> Result<(), E> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split64(n);
    if m < lo + k {
        path_by(m, lo, lo + k, perfect, out)?;
        out.push(range_root(lo + k, hi, perfect)?);
    } else {
        path_by(m, lo + k, hi, perfect, out)?;
        out.push(range_root(lo, lo + k, perfect)?);
    }
    Ok(())
}

/// Does `proof` show `leaf` at `index` in the tree of `size` leaves with head `root`?
/// (RFC 9162 §2.1.3.2.)
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Sha256Digest,
    proof: &[Sha256Digest],
    root: &Sha256Digest,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// The consistency proof from the tree of the first `m` of `leaves` to the tree of all of
/// them (RFC 9162 §2.1.4.1), or None unless `0 < m <= leaves.len()`.
pub fn consistency_proof(m: usize, leaves: &[Sha256Digest]) -> Option<Vec<Sha256Digest>> {
    (m > 0 && m <= leaves.len()).then(|| {
        let mut out = Vec::new();
        subproof(m, leaves, true, &mut out);
        out
    })
}

fn subproof(m: usize, d: &[Sha256Digest], whole: bool, out: &mut Vec<Sha256Digest>) {
    let n = d.len();
    if m == n {
        if !whole {
            out.push(root(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], whole, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
}

/// Does `proof` show the tree of `m` leaves with head `first` is a prefix of the tree of
/// `n` leaves with head `second`? (RFC 9162 §2.1.4.2; equal sizes need equal heads and an
/// empty proof.)
pub fn verify_consistency(
    m: u64,
    n: u64,
    first: &Sha256Digest,
    second: &Sha256Digest,
    proof: &[Sha256Digest],
) -> bool {
    if m == 0 || m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && first == second;
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Sha256Digest> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(*first);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (m - 1, n - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *first && sr == *second && s == 0
}
