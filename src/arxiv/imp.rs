//! Placeholder: the readers are being written (issue 4).

use super::{Format, Item, ReadError, ReadOptions, Rejected};

pub(super) fn detect(_bytes: &[u8]) -> Option<Format> {
    None
}

pub(super) fn read(
    _bytes: &[u8],
    file: &str,
    _opts: &ReadOptions,
) -> Result<Vec<Result<Item, Rejected>>, ReadError> {
    Err(ReadError {
        file: file.to_owned(),
        message: "arXiv readers are not implemented yet".into(),
    })
}
