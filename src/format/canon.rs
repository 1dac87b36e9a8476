//! Canonical JSON: the strict parser and the one canonical serializer (spec §2).
//!
//! Every digest in the format is SHA-256 over the bytes [`to_canonical`] produces:
//! exactly Python's `json.dumps(obj, sort_keys=True, separators=(',', ':'),
//! ensure_ascii=False)` encoded as UTF-8. The parser refuses anything that form cannot
//! represent faithfully, naming the byte offset and the JSON path of the problem.

use std::collections::BTreeMap;
use std::fmt;

/// Deepest nesting of arrays and objects the parser accepts (spec §2).
pub(crate) const MAX_DEPTH: usize = 128;

/// A JSON value as canonical JSON sees it.
///
/// Objects are kept in a `BTreeMap`, whose `String` order is UTF-8 byte order, which is
/// Unicode code-point order: the order canonical JSON writes keys in.
#[derive(Clone, Debug)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number written without fraction or exponent, in [-2^63, 2^64-1].
    Int(i128),
    /// A number written with a fraction or an exponent (always finite).
    Float(f64),
    /// A string (never holds a lone surrogate: Rust strings cannot).
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in code-point order.
    Object(BTreeMap<String, Value>),
    /// A value whose canonical bytes are already written (see [`Memo`]). It reads as the
    /// value it holds and equals it; only [`Value::memo`] makes one.
    Memo(Memo),
}

/// A value with its canonical bytes, written once (each object serialized once).
///
/// Bulk issuing puts the same payloads and record into an event's digest, the state, the
/// state's digest and the bundle; a memo is serialized once and then copied, and cloned by
/// reference. It is read through the [`Value`] accessors like the value it holds, and is
/// frozen: the `_mut` accessors give `None` for it, so its bytes can never go stale.
#[derive(Clone)]
pub struct Memo(std::sync::Arc<(Value, Box<[u8]>)>);

impl Memo {
    /// The value.
    pub fn value(&self) -> &Value {
        &self.0.0
    }
    /// Its canonical bytes (spec §2).
    pub fn bytes(&self) -> &[u8] {
        &self.0.1
    }
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Memo").field(self.value()).finish()
    }
}

impl PartialEq for Value {
    /// JSON equality; a memo equals the value it holds.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Memo(a), b) => a.value() == b,
            (a, Value::Memo(b)) => a == b.value(),
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

/// An object map.
pub type Map = BTreeMap<String, Value>;

impl Value {
    /// The object map, if this is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            Value::Memo(m) => m.value().as_object(),
            _ => None,
        }
    }
    /// The mutable object map, if this is an object. A [`Memo`] is first thawed into the
    /// plain value it holds (its written bytes no longer match once it changes), so a
    /// mutation through it is never silently lost.
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        self.thaw();
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
    /// Replace a [`Memo`] by the plain value it holds.
    fn thaw(&mut self) {
        if let Value::Memo(m) = self {
            let plain = m.value().clone();
            *self = plain;
        }
    }
    /// The member `key` of an object, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.get_mut(key)
    }
    /// The elements of an array, mutably (a [`Memo`] is thawed first, as for
    /// [`Self::as_object_mut`]).
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        self.thaw();
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            Value::Memo(m) => m.value().as_array(),
            _ => None,
        }
    }
    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Memo(m) => m.value().as_str(),
            _ => None,
        }
    }
    /// The integer, if this is an integer.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Memo(m) => m.value().as_int(),
            _ => None,
        }
    }
    /// This value with its canonical bytes written once ([`Memo`]); a memo is returned as
    /// it is.
    pub fn memo(self) -> Value {
        if let Value::Memo(_) = self {
            return self;
        }
        let bytes = to_canonical(&self).into_boxed_slice();
        Value::Memo(Memo(std::sync::Arc::new((self, bytes))))
    }
    /// Member `key` of an object (None for non-objects or a missing key).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }
    /// A short name of the JSON type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            Value::Memo(m) => m.value().type_name(),
        }
    }
    /// The canonical bytes of this value.
    pub fn canonical(&self) -> Vec<u8> {
        to_canonical(self)
    }
    /// A short, human-readable rendering for messages (canonical, cut at 80 bytes).
    pub fn brief(&self) -> String {
        let s = String::from_utf8_lossy(&self.canonical()).into_owned();
        if s.chars().count() > 80 {
            let cut: String = s.chars().take(77).collect();
            format!("{cut}...")
        } else {
            s
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i as i128)
    }
}
impl From<u64> for Value {
    fn from(i: u64) -> Self {
        Value::Int(i as i128)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Object(m)
    }
}

/// Build an object from `(key, value)` pairs.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Why some bytes are not canonical-JSON input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanonErrorKind {
    /// The input is empty (or only white space).
    Empty,
    /// A UTF-8 byte-order mark at the start.
    ByteOrderMark,
    /// Bytes that are not UTF-8 (overlong forms included).
    InvalidUtf8,
    /// Something other than what the grammar allows here.
    Syntax(String),
    /// An object key appears twice.
    DuplicateKey(String),
    /// `NaN`, `Infinity` or `-Infinity`.
    NonFinite(String),
    /// A number too large for a float, or an integer outside [-2^63, 2^64-1].
    NumberOutOfRange(String),
    /// A `\u` escape of half a surrogate pair.
    LoneSurrogate,
    /// A raw control character inside a string.
    ControlCharacter(u8),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Data after the first JSON value.
    TrailingData,
}

impl fmt::Display for CanonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CanonErrorKind::Empty => write!(f, "empty input, expected a JSON value"),
            CanonErrorKind::ByteOrderMark => write!(f, "byte-order mark is not allowed"),
            CanonErrorKind::InvalidUtf8 => write!(f, "invalid UTF-8"),
            CanonErrorKind::Syntax(s) => write!(f, "{s}"),
            CanonErrorKind::DuplicateKey(k) => write!(f, "duplicate object key {k:?}"),
            CanonErrorKind::NonFinite(s) => write!(f, "{s} is not representable"),
            CanonErrorKind::NumberOutOfRange(s) => write!(f, "number out of range: {s}"),
            CanonErrorKind::LoneSurrogate => write!(f, "lone surrogate in a \\u escape"),
            CanonErrorKind::ControlCharacter(b) => {
                write!(f, "unescaped control character 0x{b:02x} in a string")
            }
            CanonErrorKind::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH}"),
            CanonErrorKind::TrailingData => write!(f, "trailing data after the JSON value"),
        }
    }
}

/// Input that canonical JSON refuses: what, at which byte, under which JSON path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset} ({path}): {kind}")]
pub struct CanonError {
    /// What is wrong.
    pub kind: CanonErrorKind,
    /// Byte offset into the input.
    pub offset: usize,
    /// JSON path of the value being read (`$` for the top level).
    pub path: String,
}

/// Parse bytes strictly into a [`Value`] (spec §2).
pub fn parse(input: &[u8]) -> Result<Value, CanonError> {
    let mut p = Parser {
        s: input,
        text: "",
        i: 0,
        path: Vec::new(),
    };
    if input.starts_with(b"\xEF\xBB\xBF") {
        return Err(p.err(CanonErrorKind::ByteOrderMark));
    }
    match std::str::from_utf8(input) {
        Ok(text) => p.text = text,
        Err(e) => {
            p.i = e.valid_up_to();
            return Err(p.err(CanonErrorKind::InvalidUtf8));
        }
    }
    p.ws();
    if p.i >= input.len() {
        return Err(p.err(CanonErrorKind::Empty));
    }
    let v = p.value(1)?;
    p.ws();
    if p.i != input.len() {
        return Err(p.err(CanonErrorKind::TrailingData));
    }
    Ok(v)
}

enum Seg {
    Key(String),
    Index(usize),
}

struct Parser<'a> {
    s: &'a [u8],
    /// `s` as text (validated once, on entry).
    text: &'a str,
    i: usize,
    path: Vec<Seg>,
}

/// Format a JSON path from segments.
fn fmt_path(segs: &[Seg]) -> String {
    let mut p = String::from("$");
    for s in segs {
        match s {
            Seg::Key(k) => push_key(&mut p, k),
            Seg::Index(i) => {
                p.push('[');
                p.push_str(&i.to_string());
                p.push(']');
            }
        }
    }
    p
}

/// Append `.key` (or `["key"]` when it is not a plain name) to a JSON path.
pub(crate) fn push_key(path: &mut String, key: &str) {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str("[\"");
        for c in key.chars() {
            match c {
                '"' => path.push_str("\\\""),
                '\\' => path.push_str("\\\\"),
                c => path.push(c),
            }
        }
        path.push_str("\"]");
    }
}

/// `path` + `.key`.
pub fn join_key(path: &str, key: &str) -> String {
    let mut p = path.to_owned();
    push_key(&mut p, key);
    p
}

/// `path` + `[i]`.
pub fn join_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl<'a> Parser<'a> {
    fn err(&self, kind: CanonErrorKind) -> CanonError {
        CanonError {
            kind,
            offset: self.i,
            path: fmt_path(&self.path),
        }
    }
    fn syntax(&self, what: &str) -> CanonError {
        let found = match self.s.get(self.i) {
            None => "end of input".to_owned(),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", *b as char),
            Some(b) => format!("byte 0x{b:02x}"),
        };
        self.err(CanonErrorKind::Syntax(format!(
            "expected {what}, found {found}"
        )))
    }
    /// The text from `start` to the current position: a run that starts and ends at
    /// ASCII bytes (or the end of input) of text validated on entry.
    fn run(&self, start: usize) -> Result<&'a str, CanonError> {
        self.text.get(start..self.i).ok_or_else(|| CanonError {
            kind: CanonErrorKind::InvalidUtf8,
            offset: start,
            path: fmt_path(&self.path),
        })
    }
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }
    fn value(&mut self, depth: usize) -> Result<Value, CanonError> {
        match self.s.get(self.i) {
            Some(b'{') => {
                if depth > MAX_DEPTH {
                    return Err(self.err(CanonErrorKind::TooDeep));
                }
                self.object(depth)
            }
            Some(b'[') => {
                if depth > MAX_DEPTH {
                    return Err(self.err(CanonErrorKind::TooDeep));
                }
                self.array(depth)
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'N') if self.s[self.i..].starts_with(b"NaN") => {
                Err(self.err(CanonErrorKind::NonFinite("NaN".into())))
            }
            Some(b'I') if self.s[self.i..].starts_with(b"Infinity") => {
                Err(self.err(CanonErrorKind::NonFinite("Infinity".into())))
            }
            Some(b'-') if self.s[self.i..].starts_with(b"-Infinity") => {
                Err(self.err(CanonErrorKind::NonFinite("-Infinity".into())))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.syntax("a JSON value")),
        }
    }
    fn literal(&mut self, word: &str, v: Value) -> Result<Value, CanonError> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.syntax("a JSON value"))
        }
    }
    fn object(&mut self, depth: usize) -> Result<Value, CanonError> {
        self.i += 1;
        // Keys in order (as canonical input has them) are collected in a vector and the
        // map built once; the first key out of order switches to inserting into a map.
        let mut sorted: Vec<(String, Value)> = Vec::new();
        let mut map: Option<Map> = None;
        let finish = |sorted: Vec<(String, Value)>, map: Option<Map>| {
            Value::Object(map.unwrap_or_else(|| sorted.into_iter().collect()))
        };
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Object(Map::new()));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.syntax("a string key"));
            }
            let key_at = self.i;
            let key = self.string()?;
            let duplicate = match &mut map {
                Some(m) => m.contains_key(&key),
                None => match sorted.last() {
                    Some((last, _)) if key.as_str() <= last.as_str() => {
                        let m: Map = std::mem::take(&mut sorted).into_iter().collect();
                        let d = m.contains_key(&key);
                        map = Some(m);
                        d
                    }
                    _ => false,
                },
            };
            if duplicate {
                self.i = key_at;
                return Err(self.err(CanonErrorKind::DuplicateKey(key)));
            }
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.syntax("':'"));
            }
            self.i += 1;
            self.ws();
            self.path.push(Seg::Key(key));
            let v = self.value(depth + 1)?;
            let Some(Seg::Key(key)) = self.path.pop() else {
                unreachable!("path stack holds the key pushed above")
            };
            match &mut map {
                Some(m) => {
                    m.insert(key, v);
                }
                None => sorted.push((key, v)),
            }
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(finish(sorted, map));
                }
                _ => return Err(self.syntax("',' or '}'")),
            }
        }
    }
    fn array(&mut self, depth: usize) -> Result<Value, CanonError> {
        self.i += 1;
        let mut a = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Array(a));
        }
        loop {
            self.ws();
            self.path.push(Seg::Index(a.len()));
            let v = self.value(depth + 1)?;
            self.path.pop();
            a.push(v);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(a));
                }
                _ => return Err(self.syntax("',' or ']'")),
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, CanonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.s.get(self.i) {
                Some(b) if b.is_ascii_hexdigit() => (*b as char).to_digit(16).unwrap_or(0),
                _ => return Err(self.syntax("four hex digits after \\u")),
            };
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }
    fn string(&mut self) -> Result<String, CanonError> {
        self.i += 1; // opening quote
        // the common case: no escape, one exact allocation
        let start = self.i;
        self.i = special_at(self.s, self.i);
        if self.s.get(self.i) == Some(&b'"') {
            let run = self.run(start)?;
            self.i += 1;
            return Ok(run.to_owned());
        }
        self.i = start;
        let mut out = String::new();
        loop {
            // copy a run of plain bytes
            let start = self.i;
            self.i = special_at(self.s, self.i);
            if self.i > start {
                out.push_str(self.run(start)?);
            }
            match self.s.get(self.i) {
                None => return Err(self.syntax("'\"' to close the string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(&b) if b < 0x20 => return Err(self.err(CanonErrorKind::ControlCharacter(b))),
                _ => {
                    let esc_at = self.i;
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.s[self.i..].starts_with(b"\\u") {
                                    let save = self.i;
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                    } else {
                                        self.i = save;
                                        self.i = esc_at;
                                        return Err(self.err(CanonErrorKind::LoneSurrogate));
                                    }
                                } else {
                                    self.i = esc_at;
                                    return Err(self.err(CanonErrorKind::LoneSurrogate));
                                }
                            } else if (0xDC00..0xE000).contains(&hi) {
                                self.i = esc_at;
                                return Err(self.err(CanonErrorKind::LoneSurrogate));
                            } else {
                                hi
                            };
                            out.push(
                                char::from_u32(cp)
                                    .ok_or_else(|| self.err(CanonErrorKind::LoneSurrogate))?,
                            );
                            continue;
                        }
                        _ => return Err(self.syntax("a valid escape")),
                    };
                    self.i += 1;
                    out.push(c);
                }
            }
        }
    }
    fn number(&mut self) -> Result<Value, CanonError> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.s.get(self.i) {
                    return Err(self.syntax("no leading zero in a number"));
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.s.get(self.i) {
                    self.i += 1;
                }
            }
            _ => return Err(self.syntax("a digit")),
        }
        let mut float = false;
        if self.s.get(self.i) == Some(&b'.') {
            float = true;
            self.i += 1;
            if !matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                return Err(self.syntax("a digit after '.'"));
            }
            while let Some(b'0'..=b'9') = self.s.get(self.i) {
                self.i += 1;
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            float = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if !matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                return Err(self.syntax("a digit in the exponent"));
            }
            while let Some(b'0'..=b'9') = self.s.get(self.i) {
                self.i += 1;
            }
        }
        // the slice holds only ASCII digits, signs, '.', 'e'
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        let range_err = |p: &Self| CanonError {
            kind: CanonErrorKind::NumberOutOfRange(text.to_owned()),
            offset: start,
            path: fmt_path(&p.path),
        };
        if float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Value::Float(f)),
                _ => Err(range_err(self)),
            }
        } else {
            const MIN: i128 = i64::MIN as i128;
            const MAX: i128 = u64::MAX as i128;
            match text.parse::<i128>() {
                Ok(i) if (MIN..=MAX).contains(&i) => Ok(Value::Int(i)),
                _ => Err(range_err(self)),
            }
        }
    }
}

/// The canonical bytes of `v` (spec §2).
pub fn to_canonical(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    write_canonical(v, &mut out);
    out
}

/// Canonical bytes as text: valid UTF-8 by construction (written from strings and ASCII),
/// so this moves the buffer after a validation pass, without the copy a lossy
/// conversion makes.
pub fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The canonical form of `v` as text.
pub fn to_canonical_text(v: &Value) -> String {
    into_text(to_canonical(v))
}

/// Where canonical bytes go: a buffer ([`Vec<u8>`]), or straight into a hash.
pub trait Sink {
    /// Append bytes.
    fn put(&mut self, bytes: &[u8]);
    /// Append one byte.
    fn byte(&mut self, b: u8) {
        self.put(&[b]);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
}

/// Write an integer in decimal without allocating.
fn write_int<S: Sink + ?Sized>(i: i128, out: &mut S) {
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    out.put(&buf[at..]);
}

/// Append the canonical bytes of `v` to `out`.
pub(crate) fn write_canonical<S: Sink + ?Sized>(v: &Value, out: &mut S) {
    match v {
        Value::Null => out.put(b"null"),
        Value::Bool(true) => out.put(b"true"),
        Value::Bool(false) => out.put(b"false"),
        Value::Int(i) => write_int(*i, out),
        Value::Float(f) => out.put(python_float_repr(*f).as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.byte(b'[');
            for (n, x) in a.iter().enumerate() {
                if n > 0 {
                    out.byte(b',');
                }
                write_canonical(x, out);
            }
            out.byte(b']');
        }
        Value::Object(m) => {
            out.byte(b'{');
            for (n, (k, x)) in m.iter().enumerate() {
                if n > 0 {
                    out.byte(b',');
                }
                write_string(k, out);
                out.byte(b':');
                write_canonical(x, out);
            }
            out.byte(b'}');
        }
        Value::Memo(m) => out.put(m.bytes()),
    }
}

/// Does any byte of `bytes` need an escape (a control character, `"` or `\`)?
fn needs_escape(bytes: &[u8]) -> bool {
    special_at(bytes, 0) < bytes.len()
}

/// The position of the first byte at or after `i` that needs an escape (`"`, `\` or a
/// control character: it ends a plain run inside a string), or `s.len()`.
///
/// Eight bytes at a time (SWAR): a word has a byte below `n` (n ≤ 128) exactly when
/// `(x - n·0x01…01) & !x & 0x80…80` is non-zero, and a byte equal to `c` when `x ^ c·0x01…01`
/// has a zero byte.
fn special_at(s: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(LO * n) & !x & HI;
    while let Some(w) = s.get(i..i + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a);
        if below(x, 0x20) | below(x ^ (LO * 0x22), 1) | below(x ^ (LO * 0x5c), 1) != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = s.get(i) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            break;
        }
        i += 1;
    }
    i
}

/// Write a string the way Python's `json.dumps(..., ensure_ascii=False)` does.
pub(crate) fn write_string<S: Sink + ?Sized>(s: &str, out: &mut S) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.byte(b'"');
    let bytes = s.as_bytes();
    // the common case: nothing to escape
    if !needs_escape(bytes) {
        out.put(bytes);
        out.byte(b'"');
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => &[],
            _ => continue,
        };
        out.put(&bytes[run..i]);
        if esc.is_empty() {
            out.put(b"\\u00");
            out.byte(HEX[(b >> 4) as usize]);
            out.byte(HEX[(b & 15) as usize]);
        } else {
            out.put(esc);
        }
        run = i + 1;
    }
    out.put(&bytes[run..]);
    out.byte(b'"');
}

/// Format a finite float exactly as Python's `repr(float)` does.
///
/// Shortest round-trip digits; positional when the decimal exponent is in [-4, 16),
/// otherwise `d.ddde±XX` with at least two exponent digits; always a `.0` or an exponent.
pub fn python_float_repr(f: f64) -> String {
    // Rust's `{:e}` gives the shortest round-trip digits in scientific form: "-1.5e300".
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let mut digits: String = mant.chars().filter(|c| *c != '.').collect();
    break_tie_to_even(f, &mut digits, exp);
    let mut s = String::with_capacity(24);
    if neg {
        s.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                s.push_str(&digits);
                s.extend(std::iter::repeat_n('0', int_len - digits.len()));
                s.push_str(".0");
            } else {
                s.push_str(&digits[..int_len]);
                s.push('.');
                s.push_str(&digits[int_len..]);
            }
        } else {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            s.push_str(&digits);
        }
    } else {
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            s.push('0');
        }
        s.push_str(&a.to_string());
    }
    s
}

/// Make Rust's shortest digits of `f` (`digits`, the first one at 10^`exp`) Python's.
///
/// Both pick the shortest digits that read back as `f`, the nearer of the two candidates
/// when both do; when `f` lies exactly halfway between them, Rust's `{:e}` takes the upper
/// and Python's repr (Gay's dtoa, mode 0) the one whose last digit is even. Rust's digits
/// differ from Python's only if their last digit is odd, `f` is exactly half a unit of
/// that digit above the digits one lower, and those also read back as `f`.
fn break_tie_to_even(f: f64, digits: &mut String, exp: i32) {
    let last = digits.as_bytes()[digits.len() - 1];
    if last.is_multiple_of(2) {
        return;
    }
    // |f| = m * 2^e exactly, m odd.
    let bits = f.to_bits();
    let field = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    let (m, e) = if field == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, field - 1075)
    };
    if m == 0 {
        return;
    }
    let (m, e) = (m >> m.trailing_zeros(), e + m.trailing_zeros() as i32);
    // The tie: |f| = (10 * d - 5) * 10^p for the digits d, p = exp - len; with 10d - 5
    // odd, that needs e = p and m = (10d - 5) * 5^p (so p is small: no work past here
    // for almost every float).
    let p = exp - digits.len() as i32;
    if e != p {
        return;
    }
    let Some(t) = digits.parse::<u64>().ok().map(|d| 10 * d - 5) else {
        return;
    };
    let five = 5u64.checked_pow(p.unsigned_abs());
    let tie = if p >= 0 {
        five.and_then(|q| t.checked_mul(q)) == Some(m)
    } else {
        five.and_then(|q| m.checked_mul(q)) == Some(t)
    };
    if !tie {
        return;
    }
    let mut lower = digits.clone();
    lower.pop();
    lower.push(char::from(last - 1));
    if format!("{lower}e{}", p + 1).parse::<f64>() == Ok(f.abs()) {
        *digits = lower;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_in_any_order_duplicates_refused_where_they_stand() {
        // in order, out of order from the start, and out of order after an ordered run
        for (src, want) in [
            (
                r#"{"a":1,"b":{"c":2},"d":3}"#,
                r#"{"a":1,"b":{"c":2},"d":3}"#,
            ),
            (
                r#"{"d":3,"b":{"c":2},"a":1}"#,
                r#"{"a":1,"b":{"c":2},"d":3}"#,
            ),
            (
                r#"{"a":1,"c":2,"b":3,"e":4,"d":5}"#,
                r#"{"a":1,"b":3,"c":2,"d":5,"e":4}"#,
            ),
            (r#"{"\u00e9":1,"z":2}"#, "{\"z\":2,\"\u{e9}\":1}"),
        ] {
            let v = parse(src.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(to_canonical(&v)).unwrap(), want, "{src}");
        }
        for (src, offset) in [
            (r#"{"a":1,"a":2}"#, 7),
            (r#"{"a":1,"b":2,"a":3}"#, 13),
            (r#"{"b":1,"a":2,"b":3}"#, 13),
            (r#"{"a":1,"c":2,"b":3,"c":4}"#, 19),
            (r#"{"x":{"k":1,"k":1}}"#, 12),
        ] {
            let e = parse(src.as_bytes()).unwrap_err();
            assert!(
                matches!(e.kind, CanonErrorKind::DuplicateKey(_)),
                "{src}: {e}"
            );
            assert_eq!(e.offset, offset, "{src}: {e}");
        }
    }

    #[test]
    fn string_runs_found_at_every_position() {
        // a special byte at each offset of a long string: an escape, a raw control byte
        for at in 0..40 {
            let mut s = "x".repeat(40);
            s.replace_range(at..at + 1, "\\n");
            let src = format!("\"{s}é\"");
            let v = parse(src.as_bytes()).unwrap();
            let mut want = "x".repeat(40);
            want.replace_range(at..at + 1, "\n");
            want.push('é');
            assert_eq!(v.as_str(), Some(want.as_str()), "escape at {at}");
            let raw = format!("\"{}\u{1}\"", "x".repeat(at));
            let e = parse(raw.as_bytes()).unwrap_err();
            assert!(
                matches!(e.kind, CanonErrorKind::ControlCharacter(1)),
                "{at}: {e}"
            );
            assert_eq!(e.offset, at + 1);
        }
    }

    #[test]
    fn swar_escape_scan_agrees_with_the_byte_rule() {
        // every byte value at every position of strings of 1 to 19 bytes, on a background
        // of plain ASCII and of UTF-8 continuation bytes
        for len in 1..20 {
            for pos in 0..len {
                for b in 0..=255u8 {
                    for bg in [b'a', 0xa9] {
                        let mut v = vec![bg; len];
                        v[pos] = b;
                        let naive = v.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
                        assert_eq!(needs_escape(&v), naive, "{v:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn mutating_a_memo_thaws_it_and_changes_the_canonical_form() {
        let mut v = object([("a", Value::Int(1))]).memo();
        v.as_object_mut().unwrap().insert("b".into(), Value::Int(2));
        assert!(matches!(v, Value::Object(_)));
        assert_eq!(to_canonical(&v), b"{\"a\":1,\"b\":2}");
    }

    #[test]
    fn float_repr_matches_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e300, "1.5e+300"),
            (123456789.125, "123456789.125"),
            (0.0001, "0.0001"),
            (1e22, "1e+22"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (0.5, "0.5"),
            (1234.5e-10, "1.2345e-07"),
            // ties: halfway between two shortest candidates, Python keeps the even digit
            (634004877786052.0 + 0.25, "634004877786052.2"),
            (2f64.powi(-25), "2.9802322387695312e-08"),
        ] {
            assert_eq!(python_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn error_names_path_and_offset() {
        let e = parse(br#"{"a":{"b":[1,NaN]}}"#).unwrap_err();
        assert_eq!(e.path, "$.a.b[1]");
        assert_eq!(e.offset, 13);
    }
}
