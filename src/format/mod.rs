//! The wire format: canonical JSON, digests and identifiers, timestamps, decided rules.

pub mod canon;
pub mod digest;
pub mod note;
pub mod rules;
pub mod text;
pub mod time;
