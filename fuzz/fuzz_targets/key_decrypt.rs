//! Secret key files: age decryption and the plaintext format never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pith::secret::SigningKey::from_plaintext(data);
    let _ = pith::secret::SigningKey::decrypt(data, &pith::secret::Unlock::Passphrase("fuzz".to_owned().into()));
});
