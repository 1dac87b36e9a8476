//! Text shown to a person: control and bidirectional-override characters made visible.
//!
//! A title, key id or error message comes from files an attacker may write; printed raw,
//! an escape sequence can redraw the terminal (a review that shows one item while two are
//! signed) and a bidi override can reorder what is read. Everything pith prints for a
//! person passes through [`visible`].

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as itself: C0 and C1 controls (but for newline
/// and tab), DEL, and the Unicode bidi controls and invisible format characters that
/// change how the rest of a line reads.
fn hidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// `s` with every hidden character written as `\u{XXXX}`; borrowed when there is none.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`visible`], with newlines and tabs escaped too: for one-line fields (titles, ids).
pub fn visible_line(s: &str) -> Cow<'_, str> {
    let v = visible(s);
    if !v.contains(['\n', '\t', '\r']) {
        return v;
    }
    Cow::Owned(
        v.replace('\n', "\\n")
            .replace('\t', "\\t")
            .replace('\r', "\\r"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_controls_are_shown_never_sent() {
        assert_eq!(visible("plain title é"), "plain title é");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(visible("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(visible("x\u{202e}gnp.exe"), "x\\u{202e}gnp.exe");
        assert_eq!(visible("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(visible_line("two\nlines\r"), "two\\nlines\\u{d}");
        assert_eq!(visible("keep\nnewline"), "keep\nnewline");
    }
}
