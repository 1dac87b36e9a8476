//! Ed25519 verification criteria: RFC 8032, Wycheproof and CCTV through the library's one
//! verification primitive (`verify_strict_raw`, the path every signature check takes).
//!
//! pith verifies strictly (ed25519-dalek `verify_strict`): it rejects small-order public
//! keys and R, and non-canonical S. Accepted edge cases are listed in `cctv_criteria`.

use pith::trust::keys::verify_strict_raw;

use crate::util::{json, unhex};

#[test]
fn rfc8032_section_7_1_vectors_verify() {
    let v = json("crypto/rfc8032_7.1_ed25519.json");
    let vs = v["vectors"].as_array().unwrap();
    assert_eq!(vs.len(), 5);
    for t in vs {
        let (pk, msg, sig) = (
            unhex(t["public_key"].as_str().unwrap()),
            unhex(t["message"].as_str().unwrap()),
            unhex(t["signature"].as_str().unwrap()),
        );
        assert!(verify_strict_raw(&pk, &msg, &sig), "{}", t["name"]);
        // one flipped bit anywhere in the signature or message is rejected
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert!(
            !verify_strict_raw(&pk, &msg, &bad),
            "{} with a flipped signature bit",
            t["name"]
        );
        let mut m2 = msg.clone();
        m2.push(0);
        assert!(
            !verify_strict_raw(&pk, &m2, &sig),
            "{} with a longer message",
            t["name"]
        );
    }
}

/// Wycheproof test ids where pith deliberately differs from the file's `result`. None.
const WYCHEPROOF_DEVIATIONS: &[u64] = &[];

#[test]
fn wycheproof_ed25519_every_invalid_rejected_every_valid_accepted() {
    let v = json("crypto/ed25519_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for g in v["testGroups"].as_array().unwrap() {
        let pk = unhex(g["publicKey"]["pk"].as_str().unwrap());
        for t in g["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let got = verify_strict_raw(
                &pk,
                &unhex(t["msg"].as_str().unwrap()),
                &unhex(t["sig"].as_str().unwrap()),
            );
            let want = match t["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {id}: result {other:?} not handled"),
            };
            if want {
                valid += 1
            } else {
                invalid += 1
            }
            if WYCHEPROOF_DEVIATIONS.contains(&id) {
                assert_ne!(got, want, "tcId {id} is listed as a deviation but agrees");
            } else {
                assert_eq!(
                    got, want,
                    "tcId {id} ({}) flags {}",
                    t["comment"], t["flags"]
                );
            }
        }
    }
    assert!(valid > 0 && invalid > 0);
    println!(
        "wycheproof ed25519: {valid} valid accepted, {invalid} invalid rejected, {} deviations",
        WYCHEPROOF_DEVIATIONS.len()
    );
}

/// The CCTV flags that make pith refuse a vector: a low-order A or R, a non-canonical
/// encoding of A or R, or a signature that holds only under the cofactored equation.
const CCTV_REFUSED_FLAGS: [&str; 5] = [
    "low_order_A",
    "low_order_R",
    "non_canonical_R",
    "non_canonical_A",
    "low_order_residue",
];

/// How many of the 914 CCTV vectors pith accepts: those with none of `CCTV_REFUSED_FLAGS`.
/// Pinned so that a change of Ed25519 library cannot move the acceptance set unnoticed.
const CCTV_ACCEPTED: usize = 43;

/// CCTV edge cases: pith's acceptance is a function of the flags, pinned here.
///
/// Accepted exactly when no flag of `CCTV_REFUSED_FLAGS` is set: a point that merely has
/// a low-order *component* is accepted when the cofactorless equation holds.
#[test]
fn cctv_criteria() {
    let v = json("crypto/ed25519vectors.json");
    let mut accepted = 0;
    let mut rejected = 0;
    for t in v.as_array().unwrap() {
        let flags: Vec<&str> = t["flags"]
            .as_array()
            .map(|f| f.iter().map(|x| x.as_str().unwrap()).collect())
            .unwrap_or_default();
        let ok = verify_strict_raw(
            &unhex(t["key"].as_str().unwrap()),
            t["msg"].as_str().unwrap().as_bytes(),
            &unhex(t["sig"].as_str().unwrap()),
        );
        let refused = CCTV_REFUSED_FLAGS.iter().any(|f| flags.contains(f));
        assert_eq!(ok, !refused, "vector {} (flags {flags:?})", t["number"]);
        if ok {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    println!("cctv ed25519: {accepted} accepted, {rejected} rejected");
    assert_eq!((accepted, rejected), (CCTV_ACCEPTED, 914 - CCTV_ACCEPTED));
}

/// The library's strict check is computed without decompressing R (see
/// `PublicKey::verify_message`); it must accept exactly what ed25519-dalek's
/// `verify_strict` accepts. Compared on every vector file and on crafted cases: each
/// 8-torsion encoding as R, non-canonical encodings of small-order R, weak keys, and
/// signatures under a mixed-order key whose cofactorless equation holds with R of small
/// order (accepted by the bare equation, refused by `verify_strict`) or with R of mixed
/// order (accepted by both). The crafted cases' outcomes are pinned as well (the vectors'
/// are pinned by the tests above), so a new ed25519-dalek whose `verify_strict` moved
/// would fail here rather than carry pith's acceptance set along with it.
#[test]
fn fast_strict_equals_verify_strict() {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use curve25519_dalek::{EdwardsPoint, Scalar};
    use sha2::{Digest, Sha512};

    let dalek = |pk: &[u8], msg: &[u8], sig: &[u8]| -> bool {
        let (Ok(pk), Ok(sig)) = (<[u8; 32]>::try_from(pk), <[u8; 64]>::try_from(sig)) else {
            return false;
        };
        ed25519_dalek::VerifyingKey::from_bytes(&pk).is_ok_and(|k| {
            k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
                .is_ok()
        })
    };
    // public key, message, signature, the pinned outcome of a crafted case
    type Case = (Vec<u8>, Vec<u8>, Vec<u8>, Option<bool>);
    let mut cases: Vec<Case> = Vec::new();
    for t in json("crypto/rfc8032_7.1_ed25519.json")["vectors"]
        .as_array()
        .unwrap()
    {
        let f = |k: &str| unhex(t[k].as_str().unwrap());
        cases.push((f("public_key"), f("message"), f("signature"), None));
    }
    for g in json("crypto/ed25519_test.json")["testGroups"]
        .as_array()
        .unwrap()
    {
        let pk = unhex(g["publicKey"]["pk"].as_str().unwrap());
        for t in g["tests"].as_array().unwrap() {
            let f = |k: &str| unhex(t[k].as_str().unwrap());
            cases.push((pk.clone(), f("msg"), f("sig"), None));
        }
    }
    for t in json("crypto/ed25519vectors.json").as_array().unwrap() {
        let msg = t["msg"].as_str().unwrap().as_bytes().to_vec();
        cases.push((
            unhex(t["key"].as_str().unwrap()),
            msg,
            unhex(t["sig"].as_str().unwrap()),
            None,
        ));
    }
    let vectors = cases.len();

    // small-order R in place of a valid signature's R: canonical, y + p, x sign bit set
    let (pk0, msg0, sig0, _) = cases[0].clone();
    let p_plus = |mut e: [u8; 32]| -> Option<[u8; 32]> {
        // y + p for y < 19 (y + p < 2^255 only for those)
        let y0 = u16::from(e[0]) | u16::from(e[1]) << 8;
        if e[1..31].iter().any(|b| *b != 0) || e[31] & 0x7f != 0 || y0 >= 19 {
            return None;
        }
        let sign = e[31] & 0x80;
        e = [0xff; 32];
        e[0] = (0xed + y0) as u8;
        e[31] = 0x7f | sign;
        Some(e)
    };
    for t in EIGHT_TORSION {
        let enc = t.compress().to_bytes();
        let mut flipped = enc;
        flipped[31] ^= 0x80;
        for r in [Some(enc), Some(flipped), p_plus(enc)]
            .into_iter()
            .flatten()
        {
            let mut sig = sig0.clone();
            sig[..32].copy_from_slice(&r);
            cases.push((pk0.clone(), msg0.clone(), sig, Some(false)));
            cases.push((r.to_vec(), msg0.clone(), sig0.clone(), Some(false))); // a weak key
        }
    }

    // a mixed-order key A' = aB + T (T of order 8) and signatures whose cofactorless
    // equation [S]B - [k]A' = R holds: R = U (small order) or R = [r]B + U (mixed order)
    let a = Scalar::from(0x1234_5678_9abc_def1u64);
    let t8 = EIGHT_TORSION[1];
    let a_pub = (B * a + t8).compress().to_bytes();
    let k_of = |r: &[u8; 32], m: &[u8]| {
        Scalar::from_hash(
            Sha512::new()
                .chain_update(r)
                .chain_update(a_pub)
                .chain_update(m),
        )
    };
    let (mut small_r, mut mixed_r) = (0, 0);
    for i in 0u32..4000 {
        let msg = i.to_le_bytes().to_vec();
        let u = EIGHT_TORSION[(i % 8) as usize];
        let r_scalar = if i % 2 == 0 {
            Scalar::ZERO
        } else {
            Scalar::from(u64::from(i) + 7)
        };
        let r_point: EdwardsPoint = B * r_scalar + u;
        let r = r_point.compress().to_bytes();
        let k = k_of(&r, &msg);
        if B * r_scalar - t8 * k != r_point {
            continue; // the equation needs U = -[k]T: holds for about one k in eight
        }
        let s = r_scalar + k * a;
        let mut sig = r.to_vec();
        sig.extend_from_slice(s.as_bytes());
        assert!(
            B * s - (B * a + t8) * k == r_point,
            "crafted signature satisfies the cofactorless equation"
        );
        if r_scalar == Scalar::ZERO {
            small_r += 1;
        } else {
            mixed_r += 1;
        }
        // refused with R of small order, accepted with R of mixed order
        cases.push((a_pub.to_vec(), msg, sig, Some(r_scalar != Scalar::ZERO)));
        if small_r >= 4 && mixed_r >= 4 {
            break;
        }
    }
    assert!(
        small_r >= 4 && mixed_r >= 4,
        "crafted {small_r} small-order and {mixed_r} mixed-order R"
    );

    let mut accepted = 0;
    for (i, (pk, msg, sig, pinned)) in cases.iter().enumerate() {
        let want = dalek(pk, msg, sig);
        if let Some(pinned) = pinned {
            assert_eq!(want, *pinned, "crafted case {i}: verify_strict moved");
        }
        assert_eq!(
            verify_strict_raw(pk, msg, sig),
            want,
            "case {i} (of {vectors} vectors first)"
        );
        accepted += usize::from(want);
    }
    assert!(accepted > 0 && accepted < cases.len());
}
