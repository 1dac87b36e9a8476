//! The pages people read: `pith/{CODE}/index.html` for each paper and the site's
//! `index.html`. Static HTML, no script, every text escaped (and control characters made
//! visible), so a hostile title shows as text.

use crate::format::canon::Value;
use crate::model::Bundle;

/// HTML-escape text shown on a page, with control and bidi characters made visible first.
pub(crate) fn esc(s: &str) -> String {
    let v = crate::format::text::visible(s);
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}code,pre{{font-family:ui-monospace,monospace}}pre{{background:#f4f4f4;padding:.75rem;overflow-x:auto}}dt{{font-weight:600}}dd{{margin:0 0 .5rem 0}}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

fn s<'a>(v: Option<&'a Value>, k: &str) -> &'a str {
    v.and_then(|x| x.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The title a paper's newest graph snapshot shows (verification has checked it against
/// the record's `title_canon_sha256`), if the bundle has one.
fn title_of(b: &Bundle) -> Option<String> {
    let events = b.value().get("events")?.as_array()?;
    events
        .iter()
        .rev()
        .filter(|e| e.get("event_type").and_then(Value::as_str) == Some("graph_snapshot"))
        .find_map(|e| {
            e.get("payload")?
                .get("graph_snapshot")?
                .get("paper")?
                .get("title")?
                .as_str()
                .map(str::to_owned)
        })
}

/// `pith/{CODE}/index.html`: what the paper is, its number, its receipt, and how to check
/// it offline.
pub(crate) fn paper(b: &Bundle, base_url: &str) -> String {
    let v = b.value();
    let n = b.number();
    let src = v.get("source");
    let id = s(src, "id");
    let version = src
        .and_then(|x| x.get("version"))
        .and_then(Value::as_int)
        .unwrap_or(0);
    let rc = v.get("events").and_then(Value::as_array).and_then(|evs| {
        evs.iter()
            .find(|e| e.get("event_type").and_then(Value::as_str) == Some("record_created"))
    });
    let receipt = rc
        .and_then(|e| e.get("payload"))
        .and_then(|p| p.get("receipt"));
    let title = title_of(b);
    let heading = title
        .clone()
        .unwrap_or_else(|| format!("arXiv:{id}v{version}"));
    let arxiv = format!("https://arxiv.org/abs/{id}v{version}");
    let code = &n.code;
    let base = base_url.trim_end_matches('/');
    let body = format!(
        "<h1>{h}</h1>\n<p>{t}</p>\n<dl>\n<dt>arXiv</dt><dd><a href=\"{al}\">{ai}</a> (version {ver})</dd>\n<dt>Pith number</dt><dd><code>{num}</code></dd>\n<dt>Short number</dt><dd><code>{short}</code></dd>\n<dt>First computed</dt><dd>{first}</dd>\n<dt>Last issued</dt><dd>{last}</dd>\n<dt>Receipt signed by</dt><dd><code>{kid}</code> (fingerprint <code>{fp}</code>)</dd>\n<dt>Bundle built</dt><dd>{built}, {nev} event(s)</dd>\n</dl>\n<h2>Verify it yourself, offline</h2>\n<p>Download <a href=\"bundle.json\">bundle.json</a> and the registry's keys (<a href=\"../../keys/\">keys/</a>, or <a href=\"../../pith-signing-key.json\">pith-signing-key.json</a>), check the key's fingerprint against one you trust, then run:</p>\n<pre>pith verify bundle.json --keyring keys/</pre>\n<p>The verdict depends only on the file and your keyring, never on this page. The state of the paper: <a href=\"state.json\">state.json</a>. Canonical address: <a href=\"{base}/pith/{code}/\">{base}/pith/{code}/</a>.</p>\n",
        h = esc(&heading),
        t = if title.is_some() {
            format!("arXiv:{}v{version}", esc(id))
        } else {
            "This bundle carries no graph snapshot, so no title.".to_owned()
        },
        al = esc(&arxiv),
        ai = esc(&format!("arXiv:{id}v{version}")),
        ver = version,
        num = esc(&n.to_string()),
        short = esc(&n.short()),
        first = esc(s(receipt, "first_computed_at")),
        last = esc(s(receipt, "last_reissued_at")),
        kid = esc(s(receipt, "key_id")),
        fp = esc(s(receipt, "public_key_fingerprint")),
        built = esc(&b.built_at().to_string()),
        nev = b.event_ids().len(),
        base = esc(base),
        code = esc(code),
    );
    page(&format!("{heading} — {n}"), &body)
}

/// The site's `index.html`: what the registry serves and how to check it.
pub(crate) fn site(base_url: &str, key_doc: &Value) -> String {
    let base = base_url.trim_end_matches('/');
    let body = format!(
        "<h1>Pith registry</h1>\n<p>Signed, offline-verifiable identifiers for arXiv paper versions, served as static files from <a href=\"{b}/\">{b}</a>.</p>\n<h2>Where things are</h2>\n<dl>\n<dt>A paper</dt><dd><code>pith/CODE/</code> (a page), <code>pith/CODE/bundle.json</code> (the signed bundle), <code>pith/CODE/state.json</code>; CODE is the 26-character code of its Pith number</dd>\n<dt>The signing key</dt><dd><a href=\"pith-signing-key.json\">pith-signing-key.json</a>: <code>{kid}</code>, fingerprint <code>{fp}</code></dd>\n<dt>Every key</dt><dd><code>keys/KEY_ID.json</code></dd>\n<dt>Mirrors</dt><dd><a href=\"pith-mirrors.json\">pith-mirrors.json</a></dd>\n</dl>\n<h2>Verify offline</h2>\n<p>Trust a key by its fingerprint, obtained from more than this site; then <code>pith verify bundle.json --keyring keys/</code> needs no network and trusts nothing the file claims about itself.</p>\n",
        b = esc(base),
        kid = esc(s(Some(key_doc), "key_id")),
        fp = esc(s(Some(key_doc), "fingerprint_sha256_hex")),
    );
    page("Pith registry", &body)
}
