//! pith: issue, sign and verify Pith numbers, events, states and bundles.
//!
//! The library owns all logic; the `pith` binary only parses arguments and reports.
//! Section references (`spec §N`) are to `pith-format.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod arxiv;
pub mod bulk;
pub mod bundle;
pub mod canon;
pub mod ceremony;
pub mod check;
pub mod custody;
pub mod digest;
pub mod graph;
pub mod io;
pub mod issue;
pub mod keys;
pub mod ledger;
pub mod merge;
pub mod offline;
pub mod publish;
pub mod rules;
pub mod secret;
pub mod time;
pub mod verify;
