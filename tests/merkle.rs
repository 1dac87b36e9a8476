//! The transparency log's Merkle tree (RFC 9162 §2.1) against a naive recomputation from
//! the definition, for every tree size 1..=300 (every leaf and older size up to 64, a
//! spread beyond), and against Python's hashlib.

use pith::Sha256Digest;
use pith::registry::merkle;
use pith::registry::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion,
};

/// MTH straight from RFC 9162 §2.1.1's definition.
fn mth(d: &[Sha256Digest]) -> Sha256Digest {
    match d.len() {
        0 => pith::format::digest::sha256(b""),
        1 => d[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn leaves(n: usize) -> Vec<Sha256Digest> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

#[test]
fn heads_and_proofs_for_every_tree_size_up_to_300() {
    let all = leaves(300);
    let heads: Vec<Sha256Digest> = (0..=300).map(|n| mth(&all[..n])).collect();
    assert_eq!(root(&[]), heads[0]);
    let bogus = leaf_hash(b"not in the log");
    for n in 1..=300usize {
        let d = &all[..n];
        assert_eq!(root(d), heads[n], "head of {n}");
        // every leaf and every older size up to 64 leaves; beyond, the edges of each
        // subtree split and a spread between them (each proof costs O(n) to make here)
        let picks: Vec<usize> = if n <= 64 {
            (0..n).collect()
        } else {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let mut v = vec![0, 1, k - 1, k, k + 1, n / 2, n - 2, n - 1];
            v.extend((0..6).map(|i| (i * 7919 + n) % n));
            v.retain(|m| *m < n);
            v.sort_unstable();
            v.dedup();
            v
        };
        for &m in &picks {
            let p = inclusion_proof(m, d).unwrap();
            let (m64, n64) = (m as u64, n as u64);
            assert!(
                verify_inclusion(m64, n64, &d[m], &p, &heads[n]),
                "leaf {m} of {n}"
            );
            assert!(
                !verify_inclusion(m64, n64, &bogus, &p, &heads[n]),
                "a bogus leaf at {m} of {n}"
            );
            if n > 1 {
                assert!(
                    !verify_inclusion((m64 + 1) % n64, n64, &d[m], &p, &heads[n]),
                    "leaf {m} of {n} at another index"
                );
            }
        }
        assert!(inclusion_proof(n, d).is_none());
        for m in picks.iter().map(|m| m + 1) {
            let p = consistency_proof(m, d).unwrap();
            let (m64, n64) = (m as u64, n as u64);
            assert!(
                verify_consistency(m64, n64, &heads[m], &heads[n], &p),
                "{m} -> {n}"
            );
            if m < n {
                // a fork: another head of the same size is not consistent
                assert!(
                    !verify_consistency(m64, n64, &bogus, &heads[n], &p),
                    "forked {m} -> {n}"
                );
                assert!(
                    !verify_consistency(m64, n64, &heads[m], &bogus, &p),
                    "{m} -> forked {n}"
                );
                // a rollback: the newer head is not a prefix of the older
                assert!(!verify_consistency(n64, m64, &heads[n], &heads[m], &p));
            }
        }
    }
}

#[test]
fn tree_heads_equal_pythons_hashlib() {
    if !crate::util::available(
        std::process::Command::new("python3")
            .arg("-c")
            .arg("1")
            .output()
            .is_ok(),
        "python3",
        "PITH_REQUIRE_PYTHON",
    ) {
        return;
    }
    let script = r#"
import hashlib
def leaf(e): return hashlib.sha256(b"\x00" + e).digest()
def node(l, r): return hashlib.sha256(b"\x01" + l + r).digest()
def mth(d):
    if not d: return hashlib.sha256(b"").digest()
    if len(d) == 1: return d[0]
    k = 1
    while k * 2 < len(d): k *= 2
    return node(mth(d[:k]), mth(d[k:]))
ls = [leaf(b"entry %d" % i) for i in range(70)]
for n in range(0, 70): print(mth(ls[:n]).hex())
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(out.status.success());
    let py: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let all = leaves(70);
    assert_eq!(py.len(), 70);
    for (n, want) in py.iter().enumerate() {
        assert_eq!(&root(&all[..n]).hex(), want, "size {n}");
    }
}

#[test]
fn proofs_from_perfect_subtree_hashes_equal_proofs_from_leaves() {
    // the path a tile reader takes: only hashes of perfect subtrees, computed here by the
    // definition (`mth`), never by the code under test
    let all = leaves(300);
    for n in 1..=300usize {
        let d = &all[..n];
        let mut perfect = |start: u64, h: u32| -> Result<Sha256Digest, ()> {
            let (s, e) = (start as usize, start as usize + (1usize << h));
            assert!(e <= n, "asked for leaves {s}..{e} beyond the tree of {n}");
            assert_eq!(s % (1 << h), 0, "a subtree that is not aligned");
            Ok(mth(&d[s..e]))
        };
        assert_eq!(merkle::root_by(n as u64, &mut perfect).unwrap(), mth(d));
        // every leaf up to 64, then the edges and a spread
        let spread: Vec<usize> = if n <= 64 {
            (0..n).collect()
        } else {
            (0..n)
                .filter(|m| m % 37 == 0 || *m + 2 >= n || m.is_power_of_two())
                .collect()
        };
        for m in spread {
            assert_eq!(
                merkle::inclusion_proof_by(m as u64, n as u64, &mut perfect).unwrap(),
                merkle::inclusion_proof(m, d),
                "leaf {m} of {n}"
            );
        }
        assert_eq!(
            merkle::inclusion_proof_by(n as u64, n as u64, &mut perfect),
            Ok(None)
        );
    }
}
