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

criterion_group!(core, benches);
criterion_main!(core);
