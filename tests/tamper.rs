//! Tamper sweep over the real bundle: every leaf changed, every key renamed, every array
//! element removed. Each copy must fail verification, except the one unauthenticated field
//! of a bundle (spec §12: `bundle_signature.signed_at`), which must verify with a warning.
//! Event `signature.signed_at` values are unauthenticated by their event signature but are
//! inside `bundle_sha256`, so in a bundle they are protected.

use pith::canon::Value;

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

#[test]
fn tamper_sweep_every_copy_fails_except_unauthenticated_fields() {
    let original = bundle();
    let k = keyring();
    let mut nodes = Vec::new();
    walk(&original, Vec::new(), &mut nodes);
    let (mut leaves, mut renames, mut removals, mut warned) = (0, 0, 0, 0);
    let mut missed = Vec::new();
    let mut check = |copy: &Value, what: String, p: &str| {
        let r = pith::verify::verify_value(copy, &k, None).unwrap();
        if UNAUTHENTICATED.contains(&p) && what.starts_with("change") {
            assert!(r.failures.is_empty(), "{what}: {:?}", r.failures);
            assert!(
                r.warnings.iter().any(|w| w.path == p),
                "{what}: no warning at {p}"
            );
            warned += 1;
        } else if r.failures.is_empty() {
            missed.push(what);
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
                    check(&copy, format!("rename {p}.{key}"), &p);
                    renames += 1;
                }
            }
            Value::Array(a) => {
                for i in 0..a.len() {
                    let mut copy = original.clone();
                    let Value::Array(ca) = at(&mut copy, path) else {
                        unreachable!()
                    };
                    ca.remove(i);
                    check(&copy, format!("remove {p}[{i}]"), &p);
                    removals += 1;
                }
            }
            leaf => {
                let mut copy = original.clone();
                *at(&mut copy, path) = changed(leaf);
                check(&copy, format!("change {p}"), &p);
                leaves += 1;
            }
        }
    }
    println!(
        "tamper sweep: {} copies ({leaves} leaves changed, {renames} keys renamed, {removals} array elements removed): {} failed verification, {warned} warned (unauthenticated), {} verified",
        leaves + renames + removals,
        leaves + renames + removals - warned - missed.len(),
        missed.len()
    );
    assert!(
        missed.is_empty(),
        "tampered copies that still verify:\n{}",
        missed.join("\n")
    );
    assert_eq!(warned, UNAUTHENTICATED.len());
    // the sweep really walked the file
    assert!(
        leaves > 400 && renames > 500 && removals > 40,
        "{leaves} {renames} {removals}"
    );
    let _ = Step::Index(0);
}
