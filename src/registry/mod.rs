//! The registry: the ledger, bulk runs, the published resolver tree.

pub mod bulk;
pub mod ledger;
pub mod merkle;
pub(crate) mod pages;
pub mod publish;
pub mod rebuild;
pub mod tiles;
