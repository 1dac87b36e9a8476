//! `pith graph`: sign a graph snapshot event for a paper (spec §9).

use std::path::PathBuf;

use pith::sign::issue::EventDraft;

use super::signing::{SignArgs, now_s, sign_or_request};
use super::{Failure, read_json, shown};

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// The paper's arXiv metadata (any format `pith record` reads); exactly one record.
    #[arg(long, value_name = "INPUT")]
    record: PathBuf,
    /// Version to use when the source lists several.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    version: Option<u32>,
    /// License URL when the source states none.
    #[arg(long, value_name = "URL")]
    default_license: Option<String>,
    /// The registry's verdict (JSON object); without it the no-verdict shape is written.
    #[arg(long, value_name = "FILE")]
    verdict: Option<PathBuf>,
    /// Operator sections (integrity, references, formal_canon, author_claims, and
    /// claims.snapshot_sha256), kept as given.
    #[arg(long, value_name = "FILE")]
    sections: Option<PathBuf>,
    #[command(flatten)]
    sign: SignArgs,
}

pub fn graph(a: GraphArgs) -> Result<u8, Failure> {
    let bytes = pith::io::read_input(&a.record)?;
    let opts = pith::arxiv::ReadOptions {
        format: None,
        version: a.version,
        all_versions: false,
        default_license: a.default_license.clone(),
    };
    let items = pith::arxiv::read(&bytes, &shown(&a.record), &opts)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let mut good = Vec::new();
    for it in items {
        match it {
            Ok(i) => good.push(i),
            Err(r) => {
                return Err(Failure::Refused(format!(
                    "refused: {}",
                    super::with_hint(&r)
                )));
            }
        }
    }
    let [item] = <[_; 1]>::try_from(good).map_err(|g: Vec<_>| {
        Failure::Usage(format!(
            "{}: {} records; pith graph takes exactly one",
            shown(&a.record),
            g.len()
        ))
    })?;
    let Some(paper) = &item.paper else {
        return Err(Failure::Usage(format!(
            "{}: a canonical record alone has no title or authors; give the arXiv metadata",
            shown(&a.record)
        )));
    };
    let verdict = a.verdict.as_deref().map(read_json).transpose()?;
    let sections = a.sections.as_deref().map(read_json).transpose()?;
    let payload =
        pith::sign::graph::payload(paper, &item.record, verdict.as_ref(), sections.as_ref())
            .map_err(|e| {
                Failure::Usage(format!(
                    "{}: {e}",
                    a.verdict
                        .as_deref()
                        .or(a.sections.as_deref())
                        .map(shown)
                        .unwrap_or_default()
                ))
            })?;
    let (_, number) = pith::sign::issue::number_of(&item.record)
        .ok_or_else(|| Failure::Usage("internal: record without a number".into()))?;
    let draft = EventDraft {
        event_type: pith::format::rules::EventType::GraphSnapshot,
        subject: number,
        payload,
        created_at: now_s(),
        supersedes: Vec::new(),
        prev_event: None,
        signer_id: a.sign.signer_id.clone(),
    };
    sign_or_request(&a.sign, &draft, Some(paper.title.clone()))
}
