//! The log served as static files: C2SP `tlog-tiles` (height 8) beside the resolver tree.
//!
//! `tile/<L>/<N>` holds 256 hashes of level `8·L` of the tree (level 0: leaf hashes),
//! `tile/entries/<N>` the 256 entries they hash, each as a big-endian `u16` length and
//! the bytes; the tile at the tree's right edge is partial, `…/<N>.p/<W>` with `W` < 256
//! of them. A full tile never changes; a partial one is immutable at its width. `N` is
//! written in zero-padded groups of three digits, all but the last prefixed `x`
//! (`x001/x234/067`).

use crate::format::digest::Sha256Digest;
use crate::format::rules::TILE_HEIGHT;
use crate::registry::merkle;

/// Hashes or entries per full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The path of tile `n` at `level` (None: the entries) holding `width` (1..=256) items.
pub fn tile_path(level: Option<u32>, n: u64, width: u64) -> String {
    let mut groups = Vec::new();
    let mut k = n;
    loop {
        groups.push(k % 1000);
        k /= 1000;
        if k == 0 {
            break;
        }
    }
    groups.reverse();
    let last = groups.len() - 1;
    let index: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i == last {
                format!("{g:03}")
            } else {
                format!("x{g:03}")
            }
        })
        .collect();
    let level = level.map_or_else(|| "entries".to_owned(), |l| l.to_string());
    let mut p = format!("tile/{level}/{}", index.join("/"));
    if width < TILE_WIDTH {
        p.push_str(&format!(".p/{width}"));
    }
    p
}

/// The hash tiles a tree of `size` leaves serves that a tree of `from` did not (every
/// tile whose width grew), as (path, contents).
pub fn hash_tiles(leaves: &[Sha256Digest], from: u64) -> Vec<(String, Vec<u8>)> {
    let size = leaves.len() as u64;
    let mut out = Vec::new();
    // the hashes of tree level 8·level, each level folded from the one below it once
    let mut nodes: std::borrow::Cow<'_, [Sha256Digest]> = leaves.into();
    let mut level = 0u32;
    while !nodes.is_empty() {
        let span = TILE_HEIGHT * level;
        let (new, old) = (nodes.len() as u64, from.min(size) >> span);
        for n in (old / TILE_WIDTH)..new.div_ceil(TILE_WIDTH) {
            let lo = n * TILE_WIDTH;
            let width = (new - lo).min(TILE_WIDTH);
            if lo + width <= old {
                continue;
            }
            let mut data = Vec::with_capacity(width as usize * 32);
            for h in &nodes[lo as usize..(lo + width) as usize] {
                data.extend_from_slice(&h.0);
            }
            out.push((tile_path(Some(level), n, width), data));
        }
        nodes = nodes
            .chunks_exact(TILE_WIDTH as usize)
            .map(merkle::root)
            .collect::<Vec<_>>()
            .into();
        level += 1;
    }
    out
}

/// An entry bundle: each entry as a big-endian `u16` length and its bytes. None when an
/// entry is longer than 65,535 bytes (the decided entry never is).
pub fn entry_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).ok()?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Some(out)
}

/// Split an entry bundle into its entries; None unless it is exactly `width` of them.
pub fn read_entry_bundle(data: &[u8], width: u64) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        if tail.len() < len || out.len() as u64 == width {
            return None;
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    (out.len() as u64 == width).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_c2sp_examples() {
        assert_eq!(tile_path(Some(0), 0, 256), "tile/0/000");
        assert_eq!(tile_path(Some(1), 1234067, 256), "tile/1/x001/x234/067");
        assert_eq!(tile_path(None, 5, 3), "tile/entries/005.p/3");
        assert_eq!(tile_path(Some(2), 1000, 256), "tile/2/x001/000");
    }

    #[test]
    fn entry_bundles_round_trip_and_refuse_leftovers() {
        let b = entry_bundle([&b"ab"[..], b"", b"xyz"]).unwrap();
        assert_eq!(
            read_entry_bundle(&b, 3).unwrap(),
            vec![&b"ab"[..], b"", b"xyz"]
        );
        assert!(read_entry_bundle(&b, 2).is_none());
        assert!(read_entry_bundle(&b[..b.len() - 1], 3).is_none());
    }
}
