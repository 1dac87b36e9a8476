//! Tamper sweep over the real bundle: every leaf changed, every key renamed, every array
//! element removed. Each copy must fail verification, except the one unauthenticated field
//! of a bundle (spec §12: `bundle_signature.signed_at`), which must verify with a warning.
//! Event `signature.signed_at` values are unauthenticated by their event signature but are
//! inside `bundle_sha256`, so in a bundle they are protected.

use pith::format::canon::Value;

use crate::util::{Step, at, bundle, keyring, show, walk};

const UNAUTHENTICATED: &[&str] = &["$.bundle_signature.signed_at"];

/// A different value of the same type: first digit/letter bumped, numbers +1, bools flipped.
fn changed(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let mut chars: Vec<char> = s.chars().collect();
            match chars.iter().position(char::is_ascii_alphanumeric) {
                Some(i) => {
                    let c = chars[i];
                    chars[i] = match c {
                        '9' => '0',
                        'z' => 'a',
                        'Z' => 'A',
                        _ => char::from(c as u8 + 1),
                    };
                    Value::String(chars.into_iter().collect())
                }
                None => Value::String(format!("{s}x")),
            }
        }
        Value::Int(i) => Value::Int(i + 1),
        Value::Float(f) => Value::Float(f * 2.0 + 1.0),
        Value::Bool(b) => Value::Bool(!b),
        Value::Null => Value::Int(0),
        _ => unreachable!("not a leaf"),
    }
}

/// Counts of a sweep: (leaves, renames, removals, warned, missed copies).
pub struct Sweep {
    pub leaves: usize,
    pub renames: usize,
    pub removals: usize,
    pub warned: usize,
    pub missed: Vec<String>,
}

/// Change every leaf, rename every key, remove every array element of `original`; every
/// copy must fail verification against `k`, except changes of the `unauthenticated`
/// leaves, which must verify with a warning.
pub fn sweep(
    original: &Value,
    k: &pith::verify::keyring::Keyring,
    unauthenticated: &[&str],
) -> Sweep {
    let mut nodes = Vec::new();
    walk(original, Vec::new(), &mut nodes);
    let mut sw = Sweep {
        leaves: 0,
        renames: 0,
        removals: 0,
        warned: 0,
        missed: Vec::new(),
    };
    let check = |copy: &Value, what: String, p: &str, sw: &mut Sweep| {
        let r = pith::verify::verify_value(copy, k, None).unwrap();
        if unauthenticated.contains(&p) && what.starts_with("change") {
            assert!(r.failures.is_empty(), "{what}: {:?}", r.failures);
            assert!(
                r.notes.iter().any(|w| w.path == p),
                "{what}: no note at {p}"
            );
            sw.warned += 1;
        } else if r.failures.is_empty() {
            sw.missed.push(what);
        }
    };
    for (path, node) in &nodes {
        let p = show(path);
        match node {
            Value::Object(m) => {
                for key in m.keys() {
                    let mut copy = original.clone();
                    let Value::Object(cm) = at(&mut copy, path) else {
                        unreachable!()
                    };
                    let x = cm.remove(key).unwrap();
                    cm.insert(format!("{key}_renamed"), x);
                    check(&copy, format!("rename {p}.{key}"), &p, &mut sw);
                    sw.renames += 1;
                }
            }
            Value::Array(a) => {
                for i in 0..a.len() {
                    let mut copy = original.clone();
                    let Value::Array(ca) = at(&mut copy, path) else {
                        unreachable!()
                    };
                    ca.remove(i);
                    check(&copy, format!("remove {p}[{i}]"), &p, &mut sw);
                    sw.removals += 1;
                }
            }
            leaf => {
                let mut copy = original.clone();
                *at(&mut copy, path) = changed(leaf);
                check(&copy, format!("change {p}"), &p, &mut sw);
                sw.leaves += 1;
            }
        }
    }
    sw
}

#[test]
fn tamper_sweep_every_copy_fails_except_unauthenticated_fields() {
    let sw = sweep(&bundle(), &keyring(), UNAUTHENTICATED);
    let total = sw.leaves + sw.renames + sw.removals;
    println!(
        "tamper sweep: {total} copies ({} leaves changed, {} keys renamed, {} array elements removed): {} failed verification, {} warned (unauthenticated), {} verified",
        sw.leaves,
        sw.renames,
        sw.removals,
        total - sw.warned - sw.missed.len(),
        sw.warned,
        sw.missed.len()
    );
    assert!(
        sw.missed.is_empty(),
        "tampered copies that still verify:\n{}",
        sw.missed.join("\n")
    );
    assert_eq!(sw.warned, UNAUTHENTICATED.len());
    // the sweep really walked the file
    assert!(
        sw.leaves > 400 && sw.renames > 500 && sw.removals > 40,
        "{} {} {}",
        sw.leaves,
        sw.renames,
        sw.removals
    );
    let _ = Step::Index(0);
}
