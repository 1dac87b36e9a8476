//! `pith publish`: the static resolver tree for verified bundles.

use std::path::PathBuf;

use super::signing::DEFAULT_BASE_URL;
use super::{Failure, read_json, shown};

#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    /// Signed bundles to publish; each must verify against --keyring.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
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
    let mut bundles = Vec::new();
    for f in &a.bundles {
        let v = read_json(f)?;
        let b = pith::verify::verify_bundle(v, &keyring).map_err(|r| {
            let first = r
                .failures
                .first()
                .map_or_else(|| "does not verify".to_owned(), ToString::to_string);
            Failure::Refused(format!("{}: not publishing: {first}", shown(f)))
        })?;
        bundles.push(b);
    }
    use pith::registry::publish::PublishError;
    let done =
        pith::registry::publish::publish(&bundles, &keyring, &a.base_url, &a.out).map_err(|e| {
            match e {
                PublishError::Io(io) => Failure::from(io),
                other => Failure::Refused(super::chain(&other)),
            }
        })?;
    if a.json {
        outln!(
            "{}",
            serde_json::to_string(&done).map_err(|e| Failure::Usage(e.to_string()))?
        );
    } else {
        for w in &done.written {
            outln!("wrote {}", a.out.join(w).display());
        }
        outln!(
            "{} file(s) written, {} unchanged",
            done.written.len(),
            done.unchanged
        );
    }
    Ok(0)
}
