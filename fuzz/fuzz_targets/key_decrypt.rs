//! Secret key files: age decryption and the plaintext format never panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pith::trust::secret::SigningKey::from_plaintext(data);
    let _ = pith::trust::secret::SigningKey::decrypt(data, &pith::trust::secret::Unlock::Passphrase("fuzz".to_owned().into()));
});
