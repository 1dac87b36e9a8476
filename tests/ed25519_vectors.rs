//! Ed25519 verification criteria: RFC 8032, Wycheproof and CCTV through the library's one
//! verification primitive (`verify_strict_raw`, the path every signature check takes).
//!
//! pith verifies strictly (ed25519-dalek `verify_strict`): it rejects small-order public
//! keys and R, and non-canonical S. Accepted edge cases are listed in `cctv_criteria`.

use pith::keys::verify_strict_raw;

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

/// CCTV edge cases: pith's acceptance is a function of the flags, pinned here.
///
/// Never accepted: a low-order A or R, a non-canonical encoding of A or R, or a signature
/// that holds only under the cofactored equation (`low_order_residue`). A point that merely
/// has a low-order *component* is accepted when the cofactorless equation holds.
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
        if ok {
            accepted += 1;
            for f in [
                "low_order_A",
                "low_order_R",
                "non_canonical_R",
                "non_canonical_A",
                "low_order_residue",
            ] {
                assert!(
                    !flags.contains(&f),
                    "vector {} accepted despite {f}: {flags:?}",
                    t["number"]
                );
            }
        } else {
            rejected += 1;
        }
    }
    println!("cctv ed25519: {accepted} accepted, {rejected} rejected");
    assert!(accepted > 0 && rejected > 0);
}
