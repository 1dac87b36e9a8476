//! Every arXiv reader (format detected, or forced by the first byte): never panics.
#![no_main]
use pith::arxiv::{Format, ReadOptions};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let forced = match data.first().map(|b| b % 8) {
        Some(0) => Some(Format::Atom),
        Some(1) => Some(Format::OaiArxiv),
        Some(2) => Some(Format::OaiArxivRaw),
        Some(3) => Some(Format::Snapshot),
        Some(4) => Some(Format::Abs),
        Some(5) => Some(Format::Record),
        _ => None,
    };
    let body = data.get(1..).unwrap_or_default();
    let _ = pith::arxiv::read(body, "fuzz", &ReadOptions { format: forced, default_license: Some("x".into()), ..ReadOptions::default() });
});
