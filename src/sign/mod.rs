//! Making signed artifacts: receipts and events, graph snapshots, bundles, offline
//! signing, key custody.

pub mod bundle;
pub mod checkpoint;
pub mod custody;
pub mod graph;
pub mod issue;
pub mod offline;
