//! The per-operation cost of the primitives under pith's bulk rates, measured by this build
//! of pith (its profile, its RUSTFLAGS, its dependency versions), single-threaded.
//!
//! `bench/compare.sh` builds it next to the pith binary it measures (`--release --example
//! primitives`, the same target directory and flags) and `bench/floor.py` turns its table
//! into the floor under pith's rates, so a build for the local CPU
//! (`RUSTFLAGS='-C target-cpu=native'`) is held to a floor made of its own primitives.
//!
//! Usage: primitives [BUNDLE.json]   (default: tests/data/pith-bundle-2605.18404v1.json)
//!
//! Rows: pith's signing path (`Signer::sign`: dalek's `raw_sign` on the expanded key), pith's
//! strict verification (`PublicKey::verify_digest`, the one check every signature goes
//! through), ed25519-dalek's own `verify_strict` and cofactorless `verify` for comparison,
//! SHA-256 (pith's `sha256`), serde_json's parse of a real bundle (the parse term of the
//! floor, as in `../shared/bench/limits`) and pith's own parser on the same bytes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::Verifier as _;
use pith::format::digest::{Sha256Digest, sha256};
use pith::format::time::Timestamp;
use pith::trust::secret::SigningKey;
use pith::trust::signer::{Domain, Signer as _};

/// Run `f` repeatedly: (median, best) ns/op over nine timed rounds of about 300 ms, after
/// a warm-up. The machine may be shared: the median is the figure to use.
fn bench<F: FnMut()>(mut f: F) -> (f64, f64) {
    const ROUNDS: usize = 9;
    const ROUND: Duration = Duration::from_millis(300);
    let mut iters: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        let e = t.elapsed();
        if e >= Duration::from_millis(50) {
            iters = ((ROUND.as_secs_f64() / (e.as_secs_f64() / iters as f64)) as u64).max(1);
            break;
        }
        iters *= 2;
    }
    let mut samples: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_secs_f64() * 1e9 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    (samples[ROUNDS / 2], samples[0])
}

fn row(name: &str, ns: (f64, f64), note: &str) {
    println!(
        "| {name:<46} | {:>10.3} | {:>10.3} | us/op   | {note} |",
        ns.0 / 1e3,
        ns.1 / 1e3
    );
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/pith-bundle-2605.18404v1.json"
        )
        .to_owned()
    });
    let bundle = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));

    #[cfg(target_arch = "x86_64")]
    {
        let ifma = cfg!(all(
            target_feature = "avx512ifma",
            target_feature = "avx512vl"
        ));
        println!(
            "cpu (run time): sha_ni={} avx2={} avx512ifma={} avx512vl={}",
            std::is_x86_feature_detected!("sha"),
            std::is_x86_feature_detected!("avx2"),
            std::is_x86_feature_detected!("avx512ifma"),
            std::is_x86_feature_detected!("avx512vl"),
        );
        println!(
            "build (compile time): target_feature avx2={} avx512ifma={} avx512vl={} sha={}",
            cfg!(target_feature = "avx2"),
            cfg!(target_feature = "avx512ifma"),
            cfg!(target_feature = "avx512vl"),
            cfg!(target_feature = "sha"),
        );
        // curve25519-dalek 5's build script compiles its AVX-512 IFMA backend in only when
        // avx512ifma and avx512vl are compile-time target features (rustc >= 1.89);
        // otherwise its AVX2 backend, chosen at run time when the CPU has AVX2
        println!(
            "curve25519-dalek backend: {}",
            if ifma {
                "avx512 (IFMA, compiled in)"
            } else if cfg!(target_feature = "avx2") {
                "simd (AVX2, compiled in)"
            } else {
                "simd (AVX2 if detected at run time, else serial)"
            }
        );
    }
    println!();
    println!(
        "| {:<46} | {:>10} | {:>10} | {:<7} | note |",
        "operation", "median", "best", "unit"
    );
    println!("|{:-<48}|{:->12}|{:->12}|{:-<9}|------|", "", "", "", "");

    // the bench key (RFC 8032 test 1 seed), signing a registry kind: the 32 digest bytes
    let seed: [u8; 32] = std::array::from_fn(|i| {
        u8::from_str_radix(
            &"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"[2 * i..2 * i + 2],
            16,
        )
        .unwrap()
    });
    let key = SigningKey::from_seed("bench", Timestamp::now(), &seed);
    let digest: Sha256Digest = sha256(b"pith primitives message");
    let msg = Domain::Bundle.message(&digest);

    let sign = bench(|| {
        black_box(key.sign(black_box(&msg)).unwrap());
    });
    row("ed25519 sign (32-byte msg)", sign, "pith Signer::sign");

    let sig = key.sign(&msg).unwrap();
    let public = key.public().clone();
    assert!(public.verify_digest(&digest.0, &sig));
    let verify = bench(|| {
        assert!(black_box(&public).verify_digest(black_box(&digest.0), black_box(&sig)));
    });
    row(
        "ed25519 verify (32-byte msg)",
        verify,
        "pith's strict check (PublicKey::verify_digest)",
    );

    let vk = ed25519_dalek::VerifyingKey::from_bytes(public.raw()).unwrap();
    let dsig = ed25519_dalek::Signature::from_bytes(&sig);
    let strict = bench(|| {
        assert!(
            black_box(&vk)
                .verify_strict(black_box(&digest.0), black_box(&dsig))
                .is_ok()
        );
    });
    row(
        "ed25519 verify_strict (32-byte msg)",
        strict,
        "ed25519-dalek verify_strict",
    );
    let cofactorless = bench(|| {
        assert!(
            black_box(&vk)
                .verify(black_box(&digest.0), black_box(&dsig))
                .is_ok()
        );
    });
    row(
        "ed25519 dalek verify (32-byte msg)",
        cofactorless,
        "ed25519-dalek verify (cofactorless, not strict)",
    );

    for size in [32usize, 1024, 16 * 1024] {
        let buf: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        let ns = bench(|| {
            black_box(sha256(black_box(&buf)));
        });
        if size == 32 {
            row("sha256 of 32 bytes", ns, "");
        } else {
            let mbs = |x: f64| size as f64 / x * 1e3;
            println!(
                "| {:<46} | {:>10.1} | {:>10.1} | MB/s    | {:.3} us/op |",
                format!("sha256 throughput, {} KiB input", size / 1024),
                mbs(ns.0),
                mbs(ns.1),
                ns.0 / 1e3
            );
        }
    }

    let name = std::path::Path::new(&path)
        .file_name()
        .map_or_else(|| path.clone(), |s| s.to_string_lossy().into_owned());
    println!("| {name} ({} B) |", bundle.len());
    let parse = bench(|| {
        let v: serde_json::Value = serde_json::from_slice(black_box(&bundle)).unwrap();
        black_box(v);
    });
    row("  serde_json parse to Value", parse, "");
    let pith_parse = bench(|| {
        black_box(pith::format::canon::parse(black_box(&bundle)).unwrap());
    });
    row("  pith canon::parse", pith_parse, "pith's own reader");

    println!();
    println!(
        "signature-bound ceilings per core (medians): issue (4 signs) {:.0} bundles/s; \
         verify (4 strict verifications) {:.0} bundles/s",
        1e9 / (4.0 * sign.0),
        1e9 / (4.0 * verify.0)
    );
}
