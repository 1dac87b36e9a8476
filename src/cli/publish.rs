//! `pith publish`: the static resolver tree for verified bundles.

use std::path::PathBuf;

use super::signing::DEFAULT_BASE_URL;
use super::{Failure, shown};

#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    /// Signed bundles to publish (a bundle per file, or JSON lines of bundles); each must
    /// verify against --keyring.
    #[arg(required_unless_present = "registry", conflicts_with = "registry")]
    bundles: Vec<PathBuf>,
    /// Publish from this registry ledger instead: every paper's newest stored bundle not
    /// yet in the tree (a second run writes nothing new).
    #[arg(long, value_name = "DB")]
    registry: Option<PathBuf>,
    /// The keyring: bundles are verified against it, its documents are published.
    #[arg(long)]
    keyring: PathBuf,
    /// The output directory (the resolver's document root).
    #[arg(long)]
    out: PathBuf,
    /// The registry's base URL, for the mirror manifest.
    #[arg(long, default_value = DEFAULT_BASE_URL)]
    base_url: String,
    /// Machine-readable summary.
    #[arg(long)]
    json: bool,
}

pub fn publish(a: PublishArgs) -> Result<u8, Failure> {
    let keyring = pith::verify::keyring::Keyring::load(&a.keyring)?;
    use pith::registry::publish::PublishError;
    let fail = |e: PublishError| match e {
        PublishError::Io(io) => Failure::from(io),
        PublishError::Ledger(l) => Failure::of(&l),
        e @ PublishError::NotADirectory { .. } => Failure::Usage(e.to_string()),
        other => Failure::Refused(super::chain(&other)),
    };
    let (done, papers, log) = match &a.registry {
        Some(db) => {
            let db = super::registry::existing(Some(db))?;
            let mut ledger =
                pith::registry::ledger::Ledger::open(&db).map_err(|e| Failure::of(&e))?;
            pith::registry::publish::publish_from_store(&mut ledger, &keyring, &a.base_url, &a.out)
                .map_err(fail)?
        }
        None => {
            let mut bundles = Vec::new();
            for f in &a.bundles {
                let bytes = pith::io::read_input(f)?;
                let values = pith::verify::merge::read_events(&bytes).map_err(|e| {
                    Failure::Usage(format!(
                        "{}: not a bundle or JSON lines of bundles {e}",
                        shown(f)
                    ))
                })?;
                for (i, v) in values.into_iter().enumerate() {
                    let b = pith::verify::verify_bundle(v, &keyring).map_err(|r| {
                        let first = r
                            .failures
                            .first()
                            .map_or_else(|| "does not verify".to_owned(), ToString::to_string);
                        Failure::Refused(format!(
                            "{} (bundle {}): not publishing: {first}",
                            shown(f),
                            i + 1
                        ))
                    })?;
                    bundles.push(b);
                }
            }
            let n = bundles.len();
            (
                pith::registry::publish::publish(&bundles, &keyring, &a.base_url, &a.out)
                    .map_err(fail)?,
                n,
                None,
            )
        }
    };
    if let Some(l) = log.as_ref().filter(|l| l.unsigned_leaves > 0) {
        errln!(
            "warning: the log holds {} leaves beyond the served checkpoint of {}: served bundles may carry events a monitor cannot find in the log yet; sign a checkpoint (pith log checkpoint) and publish again",
            l.unsigned_leaves,
            l.tree_size
        );
    }
    if a.json {
        let mut v = serde_json::to_value(&done).map_err(|e| Failure::Usage(e.to_string()))?;
        if let (Some(o), Some(l)) = (v.as_object_mut(), &log) {
            o.insert(
                "log".into(),
                serde_json::to_value(l).map_err(|e| Failure::Usage(e.to_string()))?,
            );
        }
        outln!("{v}");
    } else {
        for w in &done.written {
            outln!("wrote {}", a.out.join(w).display());
        }
        outln!(
            "published {papers} paper(s): {} file(s) written, {} unchanged",
            done.written.len(),
            done.unchanged
        );
        match (&log, &a.registry) {
            (Some(l), _) => outln!(
                "served log {} at {} leaves (was {})",
                super::vis(&l.origin),
                l.tree_size,
                l.served_before
            ),
            (None, Some(_)) => {
                infoln!("the log is not served: no checkpoint signed yet (pith log checkpoint)")
            }
            (None, None) => {}
        }
    }
    Ok(0)
}
