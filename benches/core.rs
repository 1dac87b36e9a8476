//! Criterion benchmarks of the core paths on the real bundle: canonicalization, digests,
//! signing, verification, merge. Ratios against the Python peer: bench/compare.sh.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use pith::format::canon::{self, Value};
use pith::format::digest::PithNumber;

fn real() -> (Vec<u8>, Value) {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pith-bundle-2605.18404v1.json"
    ))
    .expect("the real bundle ships with the crate");
    let v = canon::parse(&raw).expect("the real bundle parses");
    (raw, v)
}

fn benches(c: &mut Criterion) {
    let (raw, bundle) = real();
    let ring = pith::verify::keyring::Keyring::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/keys.example"
    )))
    .expect("keys.example loads");
    c.bench_function("parse real bundle (strict)", |b| {
        b.iter(|| canon::parse(black_box(&raw)))
    });
    c.bench_function("canonical serialize real bundle", |b| {
        b.iter(|| canon::to_canonical(black_box(&bundle)))
    });
    c.bench_function("bundle_sha256", |b| {
        b.iter(|| pith::sign::bundle::bundle_sha256(black_box(&bundle)))
    });
    let key = pith::trust::secret::SigningKey::from_seed(
        "bench",
        pith::format::time::Timestamp::now(),
        &[9u8; 32],
    );
    let d = pith::format::digest::sha256(b"bench");
    c.bench_function("ed25519 sign digest", |b| {
        let m = pith::trust::signer::Domain::Event.message(&d);
        b.iter(|| pith::trust::signer::Signer::sign(&key, black_box(&m)).unwrap())
    });
    let sig =
        pith::trust::signer::Signer::sign(&key, &pith::trust::signer::Domain::Event.message(&d))
            .unwrap();
    c.bench_function("ed25519 verify_strict digest", |b| {
        b.iter(|| key.public().verify_digest(black_box(&d.0), black_box(&sig)))
    });
    c.bench_function("verify real bundle (all checks)", |b| {
        b.iter(|| pith::verify::verify_value(black_box(&bundle), &ring, None))
    });
    let events = bundle
        .get("events")
        .and_then(Value::as_array)
        .expect("events")
        .clone();
    let subject = PithNumber::parse("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX").expect("number");
    c.bench_function("merge real events (signatures checked)", |b| {
        b.iter(|| {
            pith::verify::merge::merge(&subject, black_box(&events), Some(&ring), &|i| {
                format!("$[{i}]")
            })
        })
    });
}

/// `n` signed events, the last superseding `m` ids (every earlier event's, then made-up
/// ones): what made merge quadratic before it tracked ids in sets.
pub fn superseding(n: usize, m: usize) -> Vec<Value> {
    use pith::format::rules::EventType;
    use pith::format::time::Timestamp;
    let key = pith::trust::secret::SigningKey::from_seed("bench", Timestamp::now(), &[9u8; 32]);
    let doc = pith::trust::keys::KeyDocument::build("bench", key.public(), None, None, None);
    let trusted = pith::trust::keys::TrustedKey {
        doc: pith::trust::keys::KeyDocument::from_value(&doc, "$").expect("document"),
        revoked: None,
        file: "bench".into(),
    };
    let t0 = Timestamp::parse("2026-01-01T00:00:00Z").expect("time");
    let auth = pith::trust::policy::Authorized::new(Box::new(key), trusted, &t0).expect("key");
    let subject = PithNumber::parse("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX").expect("number");
    let mut evs: Vec<Value> = Vec::with_capacity(n);
    let mut ids: Vec<Value> = Vec::new();
    for i in 0..n {
        let at = Timestamp::parse(&format!(
            "2026-01-01T{:02}:{:02}:{:02}Z",
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        ))
        .expect("time");
        let supersedes = if i + 1 == n {
            let mut s: Vec<String> = ids
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            let mut k = 0u64;
            while s.len() < m {
                s.push(format!("sha256:{:064x}", k));
                k += 1;
            }
            s
        } else {
            Vec::new()
        };
        let d = pith::sign::issue::EventDraft {
            event_type: EventType::MirrorHint,
            subject: subject.clone(),
            payload: canon::object([("n", (i as i64).into())]),
            created_at: at,
            supersedes,
            prev_event: None,
            signer_id: "pith.science".into(),
        };
        let ev = pith::sign::issue::sign_event(&d, &auth, &at).expect("signed");
        ids.push(ev.get("event_id").cloned().expect("id"));
        evs.push(ev);
    }
    evs
}

fn supersedes(c: &mut Criterion) {
    let subject = PithNumber::parse("pith:2026:USNR7PI7ZDEQNRM6DFJQ3IZ4SX").expect("number");
    let mut g = c.benchmark_group("merge, one event superseding many");
    g.sample_size(10);
    for (n, m) in [(200, 5_000), (2_000, 50_000), (20_000, 500_000)] {
        let evs = superseding(n, m);
        g.bench_function(format!("{n} events, {m} superseded ids"), |b| {
            b.iter(|| {
                pith::verify::merge::merge(&subject, black_box(&evs), None, &|i| format!("$[{i}]"))
            })
        });
    }
    g.finish();
}

fn keyring_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("keyring load");
    g.sample_size(10);
    for n in [320u32, 3_200, 32_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        for i in 0..n {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_le_bytes());
            let k = pith::trust::secret::SigningKey::from_seed(
                &format!("k{i}"),
                pith::format::time::Timestamp::now(),
                &seed,
            );
            let doc =
                pith::trust::keys::KeyDocument::build(k.key_id(), k.public(), None, None, None);
            std::fs::write(
                dir.path().join(format!("k{i}.pub.json")),
                canon::to_canonical(&doc),
            )
            .expect("write");
        }
        g.bench_function(format!("{n} key documents"), |b| {
            b.iter(|| pith::verify::keyring::Keyring::load(black_box(dir.path())).expect("loads"))
        });
    }
    g.finish();
}

/// A signed bundle of the real record with `n` further events, and the keyring that
/// trusts its key.
fn big_bundle(n: usize) -> (Value, pith::verify::keyring::Keyring, tempfile::TempDir) {
    use pith::format::rules::EventType;
    use pith::format::time::Timestamp;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = pith::trust::secret::SigningKey::from_seed("bench", Timestamp::now(), &[9u8; 32]);
    let doc = pith::trust::keys::KeyDocument::build("bench", key.public(), None, None, None);
    std::fs::write(dir.path().join("bench.pub.json"), canon::to_canonical(&doc)).expect("doc");
    let ring = pith::verify::keyring::Keyring::load(dir.path()).expect("keyring");
    let t0 = Timestamp::parse("2026-05-20T00:00:00Z").expect("time");
    let auth = ring.authorize(Box::new(key), &t0).expect("key");
    let (_, bundle) = real();
    let rec = bundle.get("canonical_record").expect("record").clone();
    let (sha, number) = pith::sign::issue::number_of(&rec).expect("number");
    let receipt = pith::sign::issue::receipt(&auth, &sha, &t0, &t0, &t0).expect("receipt");
    let rc =
        pith::sign::issue::record_created_draft(&number, &rec, &sha, receipt, &t0, "pith.science");
    let mut evs = vec![pith::sign::issue::sign_event(&rc, &auth, &t0).expect("signed")];
    for i in 0..n {
        let at = Timestamp::parse(&format!(
            "2026-05-21T{:02}:{:02}:{:02}Z",
            i / 3600 % 24,
            i / 60 % 60,
            i % 60
        ))
        .expect("time");
        let d = pith::sign::issue::EventDraft {
            event_type: EventType::MirrorHint,
            subject: number.clone(),
            payload: canon::object([("n", (i as i64).into())]),
            created_at: at,
            supersedes: Vec::new(),
            prev_event: None,
            signer_id: "pith.science".into(),
        };
        evs.push(pith::sign::issue::sign_event(&d, &auth, &at).expect("signed"));
    }
    let built = Timestamp::parse("2026-05-22T00:00:00Z").expect("time");
    let unsigned =
        pith::sign::bundle::assemble(&evs, &ring, "https://pith.science", &built, Some("bench"))
            .expect("assembled");
    let b = pith::sign::bundle::sign(unsigned, &auth, &built).expect("signed");
    (b, ring, dir)
}

fn verify_sizes(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify a bundle of many events");
    g.sample_size(10);
    for n in [200usize, 2_000, 20_000] {
        let (b, ring, _dir) = big_bundle(n);
        let r = pith::verify::verify_value(&b, &ring, None).expect("a bundle");
        assert!(r.ok(), "{:?}", r.failures.first());
        g.bench_function(format!("{} events", n + 1), |bch| {
            bch.iter(|| pith::verify::verify_value(black_box(&b), &ring, None))
        });
    }
    g.finish();
}

criterion_group!(core, benches, supersedes, keyring_load, verify_sizes);
criterion_main!(core);
