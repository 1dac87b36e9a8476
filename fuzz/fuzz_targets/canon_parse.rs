//! Strict parser: never panics; whatever it accepts re-serializes to a fixed point.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(v) = pith::format::canon::parse(data) {
        let c = pith::format::canon::to_canonical(&v);
        let again = pith::format::canon::parse(&c).expect("canonical output parses");
        assert_eq!(pith::format::canon::to_canonical(&again), c);
    }
});
