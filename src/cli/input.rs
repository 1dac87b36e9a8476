//! The metadata inputs every reading command shares: files or `-`, format, versions.

use std::path::PathBuf;

use pith::arxiv::{self, Format, Item, ReadOptions, Rejected};
use pith::format::canon::{self, Value};

use super::{Failure, shown};

/// How inputs are read (shared by `record` and `issue`).
#[derive(clap::Args, Debug)]
pub struct InputArgs {
    /// Input files (`-` for stdin): Atom, OAI-PMH arXiv/arXivRaw, snapshot JSON lines,
    /// .abs, or canonical-record JSON. The format is detected from the content.
    #[arg(required = true)]
    pub(super) inputs: Vec<PathBuf>,
    /// Force the input format.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Format::NAMES))]
    pub(super) format: Option<String>,
    /// Only this version (where the source lists versions); default the latest.
    #[arg(long, conflicts_with = "all_versions", value_parser = clap::value_parser!(u32).range(1..))]
    version: Option<u32>,
    /// One record per version the source lists.
    #[arg(long)]
    all_versions: bool,
    /// License URL for records that state none (otherwise they are refused).
    #[arg(long, value_name = "URL")]
    default_license: Option<String>,
    /// Also write refused records here, as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub(super) rejects: Option<PathBuf>,
    /// Write one JSON line per record here: its outcome, number and notes (withdrawn,
    /// metadata changed), or why it was refused.
    #[arg(long, value_name = "FILE")]
    pub(super) report: Option<PathBuf>,
}

impl InputArgs {
    pub(super) fn options(&self) -> ReadOptions {
        ReadOptions {
            format: self.format.as_deref().and_then(Format::parse),
            version: self.version,
            all_versions: self.all_versions,
            default_license: self.default_license.clone(),
        }
    }

    /// Read every input; refused records and unreadable inputs are reported on stderr (and
    /// in `--rejects`, replaced only with `force`). Returns the good items and whether
    /// anything was refused.
    pub fn read_all(&self, force: bool) -> Result<(Vec<Item>, bool), Failure> {
        let mut rejects_file = super::bulkio::JsonLines::open(self.rejects.as_deref(), force)?;
        let opts = self.options();
        let mut good = Vec::new();
        let mut rejects: Vec<Rejected> = Vec::new();
        for f in &self.inputs {
            let name = shown(f);
            let bytes = pith::io::read_input(f)?;
            match arxiv::read(&bytes, &name, &opts) {
                Ok(items) => {
                    for it in items {
                        match it {
                            Ok(i) => good.push(i),
                            Err(r) => rejects.push(r),
                        }
                    }
                }
                Err(e) => rejects.push(Rejected::from(e)),
            }
        }
        for r in &rejects {
            errln!("refused: {}", super::with_hint(&r));
        }
        for r in &rejects {
            rejects_file.push(&super::bulkio::rejected_json(r));
        }
        rejects_file.finish()?;
        Ok((good, !rejects.is_empty()))
    }
}

pub fn to_json(v: &Value) -> serde_json::Value {
    serde_json::from_slice(&canon::to_canonical(v)).unwrap_or(serde_json::Value::Null)
}

/// `2605.18404v1` for a record.
pub fn source_label(record: &Value) -> String {
    let s = record.get("source");
    let id = s
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let v = s
        .and_then(|s| s.get("version"))
        .and_then(Value::as_int)
        .unwrap_or(0);
    format!("{id}v{v}")
}
