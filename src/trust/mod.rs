//! What signs and what is trusted: public keys and their documents, secret keys, key
//! statements.

pub mod keys;
pub mod pkcs11;
pub mod policy;
pub mod secret;
pub mod signer;
pub mod statements;
