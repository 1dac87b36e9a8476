//! Bundles rebuilt from the registry's event store (spec §11): the same bundle as
//! assembling the same events from files, signed, stored, then written.

use std::io::Write;

use crate::format::canon;
use crate::format::digest::PithNumber;
use crate::format::time::Timestamp;
use crate::registry::bulk::{BulkError, Summary};
use crate::registry::ledger::{Ledger, Select};
use crate::trust::policy::Authorized;
use crate::verify::keyring::Keyring;

/// Which papers to rebuild.
#[derive(Clone, Debug)]
pub enum Papers {
    /// These numbers, in this order.
    Numbers(Vec<PithNumber>),
    /// A walk of the store.
    Walk(Select),
}

/// How rebuilt bundles are made.
pub struct Rebuild<'a> {
    /// The keyring the stored events must verify against (`public_keys` come from it).
    pub keyring: &'a Keyring,
    /// The bundle signing key.
    pub key: &'a Authorized,
    /// Base URL for links and mirror hints.
    pub base_url: &'a str,
    /// `built_at` (whole seconds).
    pub built_at: Timestamp,
    /// The signature's `signed_at` (within `built_at`'s second).
    pub signed_at: Timestamp,
}

/// Papers fetched from the store per page of a walk.
const PAGE: usize = 1000;

/// Rebuild, sign, store and write (one JSON line each) the bundles of `papers`.
///
/// Each bundle is verified with the keyring and stored in the ledger before its line is
/// written. A paper whose stored events do not make a bundle (none, or some that no
/// longer verify) is refused through `refused` and the run goes on.
pub fn rebuild(
    ledger: &mut Ledger,
    papers: &Papers,
    how: &Rebuild<'_>,
    out: &mut dyn Write,
    refused: &mut dyn FnMut(&PithNumber, String),
) -> Result<Summary, BulkError> {
    let mut sum = Summary::default();
    let mut one = |ledger: &mut Ledger, n: &PithNumber| -> Result<(), BulkError> {
        sum.lines += 1;
        match build_one(ledger, n, how)? {
            Ok(line) => {
                out.write_all(&line)
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|source| BulkError::Io {
                        what: "writing a bundle".into(),
                        source,
                    })?;
                sum.done += 1;
            }
            Err(why) => {
                refused(n, why);
                sum.refused += 1;
            }
        }
        Ok(())
    };
    match papers {
        Papers::Numbers(ns) => {
            for n in ns {
                one(ledger, n)?;
            }
        }
        Papers::Walk(select) => {
            let mut after = 0;
            loop {
                let page = ledger.numbers_page(after, select, PAGE)?;
                let Some((last, _)) = page.last() else { break };
                after = *last;
                for (_, n) in &page {
                    one(ledger, n)?;
                }
            }
        }
    }
    Ok(sum)
}

/// One paper's bundle from the store: its canonical bytes, or why it cannot be built.
fn build_one(
    ledger: &mut Ledger,
    n: &PithNumber,
    how: &Rebuild<'_>,
) -> Result<Result<Vec<u8>, String>, BulkError> {
    let events = ledger.events_of(n)?;
    if events.is_empty() {
        return Ok(Err("no events in the registry store".into()));
    }
    let unsigned = match crate::sign::bundle::assemble(
        &events,
        how.keyring,
        how.base_url,
        &how.built_at,
        Some(how.key.key_id()),
    ) {
        Ok(u) => u,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let signed = match crate::sign::bundle::sign(unsigned, how.key, &how.signed_at) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let verified = match crate::verify::verify_bundle(signed, how.keyring) {
        Ok(v) => v,
        Err(r) => {
            return Ok(Err(format!(
                "the bundle built does not verify: {}",
                r.failures
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )));
        }
    };
    ledger.store_bundle(&verified, true)?;
    Ok(Ok(canon::to_canonical(verified.value())))
}
