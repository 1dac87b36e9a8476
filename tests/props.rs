//! Property tests: canonical form round trip and idempotence, sign then verify,
//! any single-byte change to a signed artifact fails verification, merge is independent
//! of event order, reissue never changes first_computed_at.

use proptest::prelude::*;

use pith::format::canon::{self, Value};

use crate::util::{bundle, keyring};

/// Arbitrary JSON values within canonical JSON's domain.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| Value::Int(i128::from(i))),
        any::<u64>().prop_map(|i| Value::Int(i128::from(i))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8).prop_map(Value::Object),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_of_canon_is_identity_and_canon_is_idempotent(v in value()) {
        let c = canon::to_canonical(&v);
        let back = canon::parse(&c).expect("canonical output parses");
        // floats compare by their canonical text (Python repr round-trips)
        prop_assert_eq!(canon::to_canonical(&back), c.clone());
        prop_assert_eq!(canon::to_canonical(&canon::parse(&canon::to_canonical(&back)).unwrap()), c);
    }

    #[test]
    fn sign_then_verify_and_any_other_message_fails(seed in any::<[u8; 32]>(), msg in any::<[u8; 32]>(), flip in 0usize..256) {
        let k = pith::trust::secret::SigningKey::from_seed("p", pith::format::time::Timestamp::now(), &seed);
        let d = pith::format::digest::Sha256Digest(msg);
        let sig = pith::trust::signer::Signer::sign(&k, &pith::trust::signer::Domain::Event.message(&d)).unwrap();
        prop_assert!(k.public().verify_digest(&msg, &sig));
        let mut m2 = msg;
        m2[flip / 8] ^= 1 << (flip % 8);
        prop_assert!(!k.public().verify_digest(&m2, &sig));
        let mut s2 = sig;
        s2[flip % 64] ^= 1 << (flip % 8);
        prop_assert!(!k.public().verify_digest(&msg, &s2));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any single-byte change to the real signed bundle's bytes: either no longer a JSON
    /// bundle, or fails verification, or (only in unauthenticated bytes / insignificant
    /// whitespace) still verifies with the same canonical form.
    #[test]
    fn single_byte_change_to_the_real_bundle_never_verifies_differently(pos in 0usize..23_000, byte in any::<u8>()) {
        let raw = std::fs::read(crate::util::bundle_path()).unwrap();
        let pos = pos % raw.len();
        prop_assume!(raw[pos] != byte);
        let mut bad = raw.clone();
        bad[pos] = byte;
        if let Ok(v) = canon::parse(&bad)
            && let Ok(r) = pith::verify::verify_value(&v, &keyring(), None)
                && r.ok() {
                    // accepted: then it is the same bundle, up to the unauthenticated field
                    let mut a = v.clone();
                    let mut b = canon::parse(&raw).unwrap();
                    for x in [&mut a, &mut b] {
                        x.get_mut("bundle_signature").and_then(Value::as_object_mut).map(|m| m.remove("signed_at"));
                    }
                    prop_assert_eq!(canon::to_canonical(&a), canon::to_canonical(&b));
                }
    }

    #[test]
    fn merge_is_independent_of_event_order(perm in Just(()).prop_perturb(|_, mut rng| { let mut v: Vec<usize> = (0..4).collect(); for i in (1..v.len()).rev() { let j = (rng.next_u32() as usize) % (i + 1); v.swap(i, j); } v })) {
        let b = bundle();
        let evs = b.get("events").and_then(Value::as_array).unwrap();
        // the two real events, each twice: order and duplicates must not matter
        let all = [evs[0].clone(), evs[1].clone(), evs[0].clone(), evs[1].clone()];
        let shuffled: Vec<Value> = perm.iter().map(|i| all[*i].clone()).collect();
        let subject = pith::format::digest::PithNumber::parse("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX").unwrap();
        let st = pith::verify::merge::merge(&subject, &shuffled, Some(&keyring()), &|i| format!("$[{i}]")).state;
        let want = b.get("state").unwrap();
        // duplicates are counted once, so the state is the bundle's own
        prop_assert_eq!(canon::to_canonical(st.value()), canon::to_canonical(want));
    }
}

#[test]
fn reissue_never_changes_first_computed_at() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = pith::registry::ledger::Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let key = crate::util::authorized(pith::trust::secret::SigningKey::from_seed(
        "p",
        pith::format::time::Timestamp::now(),
        &[3u8; 32],
    ));
    let rec = bundle().get("canonical_record").unwrap().clone();
    let mut line = pith::format::canon::to_canonical(&rec);
    line.push(b'\n');
    let opts = pith::registry::bulk::IssueOptions {
        threads: 1,
        read: Default::default(),
        bundles: false,
        base_url: "https://pith.science".into(),
        signer_id: "pith.science".into(),
        now: None,
        transaction_records: 1,
    };
    let doc = key.document().clone();
    let issue = |l: &mut pith::registry::ledger::Ledger| {
        let mut out = Vec::new();
        let mut is = pith::registry::bulk::Issuer {
            key: &key,
            key_doc: &doc,
            ledger: l,
            opts: &opts,
        };
        pith::registry::bulk::issue_lines(
            &mut line.as_slice(),
            "rec",
            &mut is,
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        pith::format::canon::parse(&out[..out.len() - 1]).unwrap()
    };
    let receipt_first = |ev: &Value| {
        ev.get("payload")
            .and_then(|p| p.get("receipt"))
            .and_then(|r| r.get("first_computed_at"))
            .and_then(Value::as_str)
            .unwrap()
            .to_owned()
    };
    let first = receipt_first(&issue(&mut l));
    for _ in 0..20 {
        let event = issue(&mut l);
        assert_eq!(receipt_first(&event), first);
        let r = event.get("payload").and_then(|p| p.get("receipt")).unwrap();
        let last = r.get("last_reissued_at").and_then(Value::as_str).unwrap();
        assert!(last >= first.as_str());
    }
    assert_eq!(l.counts().unwrap(), (1, 21, 42));
}
