//! Identifiers and digests derived from canonical JSON (spec §3, §6).
//!
//! One hashing path: every digest of the format goes through [`canon_sha256`].

use sha2::{Digest as _, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::format::canon::{Sink, Value, write_canonical};
use crate::format::rules;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Lower-case hex, 64 characters.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
    /// Parse 64 lower-case hex characters.
    pub(crate) fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let v = unhex(s)?;
        Some(Sha256Digest(v.try_into().ok()?))
    }
}

impl std::fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sha256Digest({})", self.hex())
    }
}
impl std::fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

/// SHA-256 of bytes.
pub fn sha256(data: &[u8]) -> Sha256Digest {
    Sha256Digest(Sha256::digest(data).into())
}

/// SHA-256 of the canonical form of a value: the one hashing path of the format.
pub fn canon_sha256(v: &Value) -> Sha256Digest {
    let mut h = HashSink::new();
    write_canonical(v, &mut h);
    h.finish()
}

/// SHA-256 of the canonical form of an object without some of its top-level keys.
///
/// Used for `content_sha256` (spec §3: without `signature`, `content_sha256`, `event_id`),
/// `state_sha256` and `bundle_sha256`. A non-object is hashed as it is.
pub fn canon_sha256_without(v: &Value, skip: &[&str]) -> Sha256Digest {
    match v.as_object() {
        Some(m) => {
            // write the object by hand, leaving out the skipped keys: no clone
            let mut h = HashSink::new();
            h.byte(b'{');
            let mut first = true;
            for (k, x) in m.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
                if !first {
                    h.byte(b',');
                }
                first = false;
                crate::format::canon::write_string(k, &mut h);
                h.byte(b':');
                write_canonical(x, &mut h);
            }
            h.byte(b'}');
            h.finish()
        }
        None => canon_sha256(v),
    }
}

/// Canonical bytes hashed as they are written, through a small buffer: the bytes of a
/// large object are never held whole.
struct HashSink {
    buf: Vec<u8>,
    h: Sha256,
}

impl HashSink {
    const CAP: usize = 8192;
    fn new() -> Self {
        HashSink {
            buf: Vec::with_capacity(Self::CAP),
            h: Sha256::new(),
        }
    }
    fn finish(mut self) -> Sha256Digest {
        self.h.update(&self.buf);
        Sha256Digest(self.h.finalize().into())
    }
}

impl Sink for HashSink {
    fn put(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > Self::CAP {
            self.h.update(&self.buf);
            self.buf.clear();
            if bytes.len() >= Self::CAP {
                self.h.update(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }
    fn byte(&mut self, b: u8) {
        if self.buf.len() == Self::CAP {
            self.h.update(&self.buf);
            self.buf.clear();
        }
        self.buf.push(b);
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// Decode hex (either case); None on odd length or a non-hex character.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|c| {
            let d = |b: u8| (b as char).to_digit(16);
            Some((d(c[0])? * 16 + d(c[1])?) as u8)
        })
        .collect()
}

/// RFC 4648 base32, upper case, no padding.
pub fn base32(data: &[u8]) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(A[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The 26-character code of a digest: the first 26 base32 characters (spec §3).
pub(crate) fn code26(d: &Sha256Digest) -> String {
    let mut s = base32(&d.0);
    s.truncate(26);
    s
}

/// Both key fingerprints of a raw public key: (32 hex chars, 26 base32 chars) (spec §3).
pub(crate) fn key_fingerprints(raw_public_key: &[u8; 32]) -> (String, String) {
    let d = sha256(raw_public_key);
    let mut h = d.hex();
    h.truncate(32);
    (h, code26(&d))
}

/// A Pith number: `pith:YEAR:CODE` (spec §3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PithNumber {
    /// The year (decided: UTC year of `submitted_at`).
    pub year: i32,
    /// The 26-character base32 code.
    pub code: String,
}

impl PithNumber {
    /// Derive the number from a canonical record and its digest.
    pub fn derive(year: i32, canonical_sha256: &Sha256Digest) -> Self {
        PithNumber {
            year,
            code: code26(canonical_sha256),
        }
    }
    /// `pith:` + first 8 chars of the code.
    pub fn short(&self) -> String {
        format!("pith:{}", &self.code[..8])
    }
    /// Parse `pith:YYYY:CODE26`.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("pith:")?;
        let (y, code) = rest.split_once(':')?;
        if y.len() != 4 || !y.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if code.len() != 26 || !code.bytes().all(|b| matches!(b, b'A'..=b'Z' | b'2'..=b'7')) {
            return None;
        }
        Some(PithNumber {
            year: y.parse().ok()?,
            code: code.to_owned(),
        })
    }
}

impl std::fmt::Display for PithNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pith:{:04}:{}", self.year, self.code)
    }
}

/// Is `c` white space as Python's `str.split()` sees it (spec §6, decided)?
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Collapse every run of white space to one space and trim (spec §6).
///
/// One pass over the bytes: an ASCII byte is judged by table, and only a non-ASCII
/// character is decoded and asked [`is_python_space`]; words are copied as slices.
pub fn collapse_ws(text: &str) -> String {
    // Python's str.split() white space among ASCII: \t \n \x0b \x0c \r \x1c-\x1f and ' '
    const fn ascii_space(b: u8) -> bool {
        matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut word: Option<usize> = None; // start of the word being read
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (space, len) = if b < 0x80 {
            (ascii_space(b), 1)
        } else {
            match text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) => (is_python_space(c), c.len_utf8()),
                None => (false, 1), // unreachable: i is always at a character boundary
            }
        };
        match (space, word) {
            (true, Some(start)) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(text.get(start..i).unwrap_or_default());
                word = None;
            }
            (false, None) => word = Some(i),
            _ => {}
        }
        i += len;
    }
    if let Some(start) = word {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(text.get(start..).unwrap_or_default());
    }
    out
}

/// The text rule for titles and abstracts: NFC, full lower-case, white space collapsed.
pub(crate) fn text_canon(text: &str) -> String {
    if text.is_ascii() {
        // NFC is the identity and lower-casing is per byte: one pass
        let mut out = collapse_ws(text);
        out.make_ascii_lowercase();
        return out;
    }
    collapse_ws(&nfc(text).to_lowercase())
}

/// `text` in Unicode Normalization Form C; borrowed when it already is (the usual case).
pub(crate) fn nfc(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{IsNormalized, is_nfc_quick};
    if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfc().collect())
    }
}

/// hex(sha256(text_canon(text))): `title_canon_sha256` / `abstract_canon_sha256` (spec §6).
pub fn text_canon_sha256(text: &str) -> String {
    sha256(text_canon(text).as_bytes()).hex()
}

/// The six source aliases of a record, sorted by `alias_kind` (spec §10).
pub(crate) fn source_aliases(
    source_id: &str,
    version: i128,
    code: &str,
    created_at: &str,
) -> Value {
    let mut v = vec![
        ("arxiv", source_id.to_owned()),
        ("arxiv_version", format!("{source_id}v{version}")),
        (
            "doi",
            format!("{}{}", rules::DOI_PREFIX, source_id).to_lowercase(),
        ),
        ("pith_short_8", code[..8.min(code.len())].to_owned()),
        ("pith_short_12", code[..12.min(code.len())].to_owned()),
        ("pith_short_16", code[..16.min(code.len())].to_owned()),
    ];
    v.sort_by(|a, b| a.0.cmp(b.0));
    Value::Array(
        v.into_iter()
            .map(|(k, val)| {
                crate::format::canon::object([
                    ("alias_kind", k.into()),
                    ("alias_value", val.into()),
                    ("created_at", created_at.into()),
                ])
            })
            .collect(),
    )
}

/// The four links of a record at a registry base URL (spec §11).
pub fn links(base_url: &str, code: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    crate::format::canon::object([
        ("resolver", format!("{base}/pith/{code}").into()),
        ("bundle", format!("{base}/pith/{code}/bundle.json").into()),
        ("state", format!("{base}/pith/{code}/state.json").into()),
        (
            "well_known_bundle",
            format!("{base}/.well-known/pith/{code}/bundle.json").into(),
        ),
    ])
}

/// The registry's mirror hint for a record (spec §11).
pub fn mirror_hint(base_url: &str, code: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    crate::format::canon::object([
        ("mirror_type", "https".into()),
        ("name", rules::MIRROR_NAME.into()),
        ("base_url", base.into()),
        (
            "bundle_url",
            format!("{base}/pith/{code}/bundle.json").into(),
        ),
        ("state_url", format!("{base}/pith/{code}/state.json").into()),
        (
            "well_known_bundle_url",
            format!("{base}/.well-known/pith/{code}/bundle.json").into(),
        ),
        ("status", "primary".into()),
    ])
}

/// Is `id` usable as a key id and a file name? (decided: 1-64 of `[A-Za-z0-9._-]`, not
/// starting with `.`)
pub fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(i.as_bytes()), o);
        }
    }

    #[test]
    fn collapse_ws_equals_splitting_on_python_white_space() {
        let reference = |t: &str| -> String {
            t.split(is_python_space)
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        // every character of the Basic Multilingual Plane below the surrogates, each between
        // words and in runs, and a few beyond
        let chars = (0u32..0xd800)
            .chain(0xe000..0x1_0000)
            .chain([0x1_f600, 0x10_ffff]);
        let mut text = String::new();
        for (n, c) in chars.filter_map(char::from_u32).enumerate() {
            text.push(c);
            if n % 7 == 0 {
                text.push_str("é w\u{3000}\u{85}");
            }
            if n % 4096 == 4095 {
                assert_eq!(collapse_ws(&text), reference(&text));
                text.clear();
            }
        }
        for t in [
            "",
            " ",
            "  a",
            "a  ",
            "\u{a0}",
            "x\u{2029}\u{2028}y",
            "\u{1c}\u{1f}é",
        ] {
            assert_eq!(collapse_ws(t), reference(t), "{t:?}");
        }
    }

    #[test]
    fn white_space_rule() {
        assert_eq!(collapse_ws("  a\u{1c}b\u{a0}\u{3000}c\n"), "a b c");
        assert_eq!(text_canon("Straße  ÉTÉ"), "straße été");
        // the ASCII fast path agrees with the general rule on every ASCII character
        let all: String = (0u8..128).chain(0..128).map(char::from).collect();
        let general = collapse_ws(&all.nfc().collect::<String>().to_lowercase());
        assert_eq!(text_canon(&all), general);
        assert_eq!(text_canon(" \u{1c}A\u{0b}B\u{0c}\u{1f}c\t"), "a b c");
        // a string not in NFC is composed; one that is comes back borrowed
        assert_eq!(nfc("e\u{301}"), "\u{e9}");
        assert!(matches!(
            nfc("\u{e9}t\u{e9}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn hashing_while_writing_equals_hashing_the_written_bytes() {
        // strings and members of every length around the sink's buffer, and integers
        // at the limits the parser accepts
        let mut m = std::collections::BTreeMap::new();
        for (n, len) in [0usize, 1, 63, 64, 8191, 8192, 8193, 20_000]
            .into_iter()
            .enumerate()
        {
            m.insert(
                format!("k{n}"),
                Value::String("\u{e9}\"x".repeat(len / 3 + 1)),
            );
            m.insert(format!("i{n}"), Value::Int(-(1i128 << 63) + n as i128));
            let v = Value::Object(m.clone());
            let bytes = crate::format::canon::to_canonical(&v);
            assert_eq!(canon_sha256(&v), sha256(&bytes), "{n}");
            let mut w = m.clone();
            w.remove("k0");
            let skipped = crate::format::canon::to_canonical(&Value::Object(w));
            assert_eq!(canon_sha256_without(&v, &["k0"]), sha256(&skipped), "{n}");
        }
        for i in [0i128, -1, 9, 10, -10, i64::MIN as i128, u64::MAX as i128] {
            assert_eq!(
                crate::format::canon::to_canonical(&Value::Int(i)),
                i.to_string().as_bytes()
            );
        }
    }
}
