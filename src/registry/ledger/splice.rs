//! Bundles stored by reference to the events the store already holds.
//!
//! A bundle repeats its events byte for byte: whole in `events`, and their payloads and
//! the canonical record again in `state` and at the top. Stored whole, a bundle would
//! double what a record writes to the ledger. So the store keeps a bundle's bytes with
//! each copy of a stored event version (or of its payload, or of the payload's canonical
//! record) cut out, and a list of where each goes back. Joining is byte copying; a cut
//! is kept only after joining it gives back exactly the bundle's bytes, so what is read
//! back is always the bytes that were signed.

use std::ops::Range;

/// A part shorter than this is left in place: its reference would not be much shorter.
const MIN_PART: usize = 64;

/// One cut: at byte `at` of the stored text go back bytes `start..start + len` of event
/// version `seq`'s canonical text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cut {
    at: usize,
    seq: i64,
    start: usize,
    len: usize,
}

/// The parts of an event's canonical text that a bundle copies: the whole event, its
/// `payload`, and the payload's `canonical_record` (where it has one).
fn parts(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(3);
    out.push(0..text.len());
    if let Some(p) = value_of(text, 0..text.len(), "payload") {
        if let Some(r) = value_of(text, p.clone(), "canonical_record") {
            out.push(r);
        }
        out.push(p);
    }
    out
}

/// The bytes of the first object value of `"key":` within `text[within]`. Canonical JSON
/// escapes every quote inside a string, so `"key":` there can only be a key; which one is
/// found does not matter for exactness, since every cut is checked by joining it back.
fn value_of(text: &str, within: Range<usize>, key: &str) -> Option<Range<usize>> {
    let hay = text.get(within.clone())?;
    let pat = format!("\"{key}\":{{");
    let start = within.start + hay.find(&pat)? + pat.len() - 1;
    let end = object_end(text.as_bytes(), start)?;
    (end <= within.end).then_some(start..end)
}

/// The end (exclusive) of the JSON object starting at `bytes[start] == b'{'`.
fn object_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A bundle's text with the copies of some events cut out ([`cut`]); its references
/// name the events by their place in the list given, until [`Spliced::refs`] names them
/// by their `seq` in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spliced {
    skeleton: String,
    cuts: Vec<Cut>,
}

impl Spliced {
    /// The text as stored.
    pub(super) fn skeleton(&self) -> &str {
        &self.skeleton
    }

    /// The references as stored, `seqs[i]` being the `seq` of the `i`-th event given to
    /// [`cut`]; None if `seqs` is too short.
    pub(super) fn refs(&self, seqs: &[i64]) -> Option<String> {
        let mut out = String::with_capacity(self.cuts.len() * 20);
        for (i, c) in self.cuts.iter().enumerate() {
            let seq = seqs.get(usize::try_from(c.seq).ok()?)?;
            if i > 0 {
                out.push(';');
            }
            out.push_str(&format!("{},{seq},{},{}", c.at, c.start, c.len));
        }
        Some(out)
    }
}

/// A bundle's text with the copies of `events` (canonical texts of stored event
/// versions) cut out; None when nothing is cut.
///
/// Every part is a JSON object, so a copy can only start at a `{`: the text is walked
/// once, from `{` to `{`, trying the longest part first (a whole event before the
/// payload inside it), and a copy found is skipped over.
pub(crate) fn cut(text: &str, events: &[&str]) -> Option<Spliced> {
    let mut patterns: Vec<(i64, usize, &[u8])> = (0i64..)
        .zip(events)
        .flat_map(|(i, t)| {
            parts(t)
                .into_iter()
                .map(move |r| (i, r.start, &t.as_bytes()[r]))
        })
        .filter(|(_, _, p)| p.len() >= MIN_PART)
        .collect();
    patterns.sort_by_key(|p| std::cmp::Reverse(p.2.len()));
    let bytes = text.as_bytes();
    let mut found: Vec<(Range<usize>, i64, usize)> = Vec::new();
    let mut next = 0;
    for at in memchr::memchr_iter(b'{', bytes) {
        if at < next {
            continue;
        }
        let rest = &bytes[at..];
        if let Some((i, start, pat)) = patterns.iter().find(|(_, _, p)| rest.starts_with(p)) {
            found.push((at..at + pat.len(), *i, *start));
            next = at + pat.len();
        }
    }
    if found.is_empty() {
        return None;
    }
    let mut skeleton = String::with_capacity(text.len());
    let mut cuts = Vec::with_capacity(found.len());
    let mut from = 0;
    for (r, i, start) in &found {
        skeleton.push_str(&text[from..r.start]);
        cuts.push(Cut {
            at: skeleton.len(),
            seq: *i,
            start: *start,
            len: r.len(),
        });
        from = r.end;
    }
    skeleton.push_str(&text[from..]);
    let spliced = Spliced { skeleton, cuts };
    let places: Vec<i64> = (0..events.len() as i64).collect();
    let texts = |i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| events.get(i))
            .map(|t| (*t).to_owned())
            .ok_or_else(|| format!("event {i}"))
    };
    // exact by construction: a cut that does not join back to the same bytes is not kept
    let joined = join(&spliced.skeleton, &spliced.refs(&places)?, texts).ok()?;
    (joined == text).then_some(spliced)
}

/// A stored bundle's bytes: `skeleton` with each reference in `refs` put back, the
/// event versions' texts read through `event`. Refuses references that do not fit.
pub(super) fn join(
    skeleton: &str,
    refs: &str,
    mut event: impl FnMut(i64) -> Result<String, String>,
) -> Result<String, String> {
    let mut cuts = Vec::new();
    for (i, r) in refs.split(';').enumerate() {
        let n: Vec<&str> = r.split(',').collect();
        let num = |s: &str| s.parse::<u64>().ok();
        let (Some(at), Some(seq), Some(start), Some(len), 4) = (
            n.first().and_then(|s| num(s)),
            n.get(1).and_then(|s| num(s)),
            n.get(2).and_then(|s| num(s)),
            n.get(3).and_then(|s| num(s)),
            n.len(),
        ) else {
            return Err(format!(
                "reference {} {r:?}: expected at,seq,start,len",
                i + 1
            ));
        };
        let big =
            |x: u64| usize::try_from(x).map_err(|_| format!("reference {}: too large", i + 1));
        cuts.push(Cut {
            at: big(at)?,
            seq: i64::try_from(seq).map_err(|_| format!("reference {}: too large", i + 1))?,
            start: big(start)?,
            len: big(len)?,
        });
    }
    // a damaged `refs` may claim any length: each part is checked against its event, and
    // nothing beyond what a bundle can be is allocated up front
    let extra = cuts
        .iter()
        .map(|c| c.len)
        .fold(0usize, usize::saturating_add)
        .min(crate::registry::bulk::MAX_LINE);
    let mut out = String::with_capacity(skeleton.len() + extra);
    let mut from = 0;
    let mut held: Vec<(i64, String)> = Vec::new();
    for (i, c) in cuts.iter().enumerate() {
        let gap = skeleton.get(from..c.at).ok_or_else(|| {
            format!(
                "reference {}: at {} is out of order or out of the text",
                i + 1,
                c.at
            )
        })?;
        out.push_str(gap);
        if !held.iter().any(|(s, _)| *s == c.seq) {
            held.push((c.seq, event(c.seq)?));
        }
        let text = held
            .iter()
            .find(|(s, _)| *s == c.seq)
            .map(|(_, t)| t.as_str())
            .unwrap_or_default();
        let part = c
            .start
            .checked_add(c.len)
            .and_then(|end| text.get(c.start..end))
            .ok_or_else(|| {
                format!(
                    "reference {}: bytes {}+{} are not in event version {}",
                    i + 1,
                    c.start,
                    c.len,
                    c.seq
                )
            })?;
        out.push_str(part);
        from = c.at;
    }
    out.push_str(skeleton.get(from..).unwrap_or_default());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EV: &str = r#"{"event_id":"sha256:aa","payload":{"canonical_record":{"metadata":{"title":"a \"quoted\" {brace} title that is long enough"},"source":"x"},"note":"payload long enough to be cut out of the bundle"},"signature":"s"}"#;

    fn bundle() -> String {
        let ev: serde_json::Value = serde_json::from_str(EV).unwrap();
        let rec = serde_json::to_string(&ev["payload"]["canonical_record"]).unwrap();
        let pay = serde_json::to_string(&ev["payload"]).unwrap();
        format!(
            r#"{{"canonical_record":{rec},"events":[{EV}],"state":{{"record":{{"payload":{pay}}},"rec":{rec}}}}}"#
        )
    }

    #[test]
    fn parts_are_the_event_its_payload_and_its_record() {
        let p: Vec<&str> = parts(EV).into_iter().map(|r| &EV[r]).collect();
        assert_eq!(p[0], EV);
        assert!(p[1].starts_with(r#"{"metadata""#) && p[1].ends_with(r#""source":"x"}"#));
        assert!(p[2].starts_with(r#"{"canonical_record""#) && p[2].ends_with("bundle\"}"));
    }

    #[test]
    fn every_copy_is_cut_and_joins_back_exactly() {
        let b = bundle();
        let spliced = cut(&b, &[EV]).unwrap();
        let (skel, refs) = (spliced.skeleton(), spliced.refs(&[7]).unwrap());
        assert_eq!(
            skel,
            r#"{"canonical_record":,"events":[],"state":{"record":{"payload":},"rec":}}"#
        );
        assert_eq!(refs.split(';').count(), 4);
        let joined = join(skel, &refs, |s| {
            assert_eq!(s, 7);
            Ok(EV.to_owned())
        })
        .unwrap();
        assert_eq!(joined, b);
    }

    #[test]
    fn a_bundle_without_the_events_is_not_cut() {
        assert_eq!(cut(r#"{"events":[]}"#, &[EV]), None);
    }

    #[test]
    fn bad_references_are_refused_not_guessed() {
        let ev = |_| Ok(EV.to_owned());
        for refs in [
            "",
            "1,2,3",
            "1,2,3,x",
            "9,1,0,4",
            "0,1,0,99999",
            "0,1,0,9223372036854775807;0,1,0,9223372036854775807",
            "0,1,18446744073709551615,2",
            "0,1,5,4;0,1,0,4;x",
        ] {
            assert!(join("{}", refs, ev).is_err(), "{refs:?} accepted");
        }
        assert_eq!(join("{}", "1,1,0,1", ev).unwrap(), "{{}");
    }
}
