//! pith's integration tests: one binary, one module per area.
//!
//! Expected values come from the real files in `tests/data/` (see PROVENANCE.md), never
//! from values pith computed itself.

mod util;

mod bad_input;
mod bulk;
mod canon_vectors;
mod ceremonies;
mod cli;
mod crash;
mod ed25519_vectors;
mod float_repr;
mod forgery;
mod hostile;
mod hsm;
pub mod issue;
mod keys;
mod log;
mod merkle;
mod offline;
mod policy;
mod props;
pub mod publishing;
mod readers;
mod real_bundle;
mod store;
mod succession;
pub mod tamper;
