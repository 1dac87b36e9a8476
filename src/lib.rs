//! pith: issue, sign and verify Pith numbers, events, states and bundles.
//!
//! The library owns all logic and all policy; the `pith` binary only parses arguments,
//! prompts and reports. Section references (`spec §N`) are to `pith-format.md`.
//!
//! The modules follow the flow of data, each importing only from those before it:
//! `format` (canonical JSON, digests, times, decided rules) → `trust` (keys, secrets,
//! statements, the signer) → `verify` (the one verification path, keyring, merge) →
//! `sign` (issuance, graph snapshots, bundles, offline signing, custody) → `registry`
//! (ledger, bulk runs, the published tree). `arxiv` reads metadata into records.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod arxiv;
pub mod format;
pub mod io;
pub mod model;
pub mod registry;
pub mod sign;
pub mod trust;
pub mod verify;

// The curated API: the types an integrator needs, at the root. The stage modules stay
// public for the tools built on them (the `pith` binary, tests, benchmarks, fuzzers).
pub use format::canon::Value;
pub use format::digest::{PithNumber, Sha256Digest};
pub use format::rules::EventType;
pub use format::time::Timestamp;
pub use model::{Bundle, Event, Receipt, Record, State};
pub use registry::ledger::Ledger;
pub use trust::keys::{KeyDocument, PublicKey};
pub use trust::policy::Authorized;
pub use trust::secret::SigningKey;
pub use trust::signer::{Domain, Signer};
pub use trust::statements::Statement;
pub use verify::keyring::Keyring;
pub use verify::{
    Kind, Report, Verified, record, verify_bundle, verify_event, verify_receipt, verify_value,
};
