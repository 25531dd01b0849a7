//! Secret and PII redaction's per-text scanning (`core/pii.py`): where the anchors are.
//!
//! `core/pii.py` finds each address through an anchor regex that starts with a literal (`@` for an
//! e-mail, `.` for IPv4, `:` for IPv6) and then runs the exact pattern only around each anchor hit.
//! Scanning a text for the three anchors cost Python's `re` three passes with a lookahead attempt at
//! every `.` and `:` of the code. This module makes one pass over the text's bytes and returns, per
//! anchor, the character positions where it MAY match, in increasing order: a superset of
//! `anchor.match(text, position)` hits. Python confirms every position with the anchor regex itself
//! before using it (`pii._anchored`), so this module can only skip positions, never invent one, and
//! every decision about a non-ASCII character stays Python's:
//!
//! - e-mail (`_EMAIL_ANCHOR`, `@(?<=[A-Za-z0-9._%+\-]@)(?=[A-Za-z0-9][A-Za-z0-9\-]{0,62}\.[A-Za-z0-9])`):
//!   every class is ASCII, so the test on bytes is exact (a byte >= 0x80 is in no class);
//! - IPv4 (`_IPV4_ANCHOR`) and IPv6 (`_IPV6_ANCHOR`) use `\d` and `\w`, which in Python also accept
//!   non-ASCII digits and letters. Their lookarounds read at most 4 characters before and 9 after a
//!   `.` (5 and 6 around a `:`); when that byte window is all ASCII it is also the character window,
//!   and the test applies the ASCII meaning of `\d` (`0-9`) and `\w` (`A-Za-z0-9_`), which is
//!   Python's on ASCII. When the window holds any byte >= 0x80 the position is kept (Python decides).
//!
//! It also returns `pii._may_hold_ipv6(text)` (`"::" in text or text.count(":") >= 7`), exact since a
//! `:` byte is only ever the character `:` in UTF-8.
//!
//! Texts are read as UTF-8; a `str` holding lone surrogates is encoded with `surrogatepass` (three
//! bytes >= 0x80 per surrogate, never an anchor). A character position is the number of bytes before
//! it that are not UTF-8 continuation bytes (`0b10xxxxxx`), true of surrogatepass too.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// A text's UTF-8 bytes, with `surrogatepass` when it holds lone surrogates.
fn text_bytes<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    match text.to_str() {
        Ok(s) => Ok(Cow::Borrowed(s.as_bytes())),
        Err(_) => {
            let encoded = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
            Ok(Cow::Owned(encoded.cast::<PyBytes>()?.as_bytes().to_vec()))
        }
    }
}

/// Python's `\w` on an ASCII character.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether `text[lo..hi]` (clamped to the text) holds a byte beyond ASCII.
fn any_non_ascii(text: &[u8], lo: usize, hi: usize) -> bool {
    !text[lo..hi.min(text.len())].is_ascii()
}

/// How many bytes from `start` (at most `cap`) satisfy `class`.
fn run(text: &[u8], start: usize, cap: usize, class: impl Fn(u8) -> bool) -> usize {
    text.iter()
        .skip(start)
        .take(cap)
        .take_while(|&&byte| class(byte))
        .count()
}

/// `_EMAIL_ANCHOR` matches at `at` (where `text[at] == b'@'`).
fn email_anchor(text: &[u8], at: usize) -> bool {
    let local = |byte: u8| byte.is_ascii_alphanumeric() || b"._%+-".contains(&byte);
    if at == 0 || !local(text[at - 1]) {
        return false;
    }
    let first = at + 1;
    if first >= text.len() || !text[first].is_ascii_alphanumeric() {
        return false;
    }
    // `[A-Za-z0-9\-]{0,62}` then `\.`: the dot is not in the class, so only the end of the run can
    // be followed by it (backtracking into the run cannot help).
    let dot = first
        + 1
        + run(text, first + 1, 62, |b| {
            b.is_ascii_alphanumeric() || b == b'-'
        });
    text.get(dot) == Some(&b'.') && text.get(dot + 1).is_some_and(|b| b.is_ascii_alphanumeric())
}

/// After `\d{1,3}\.` from `start` (ASCII digits): where the next part begins, or None.
fn digits_dot(text: &[u8], start: usize) -> Option<usize> {
    let digits = run(text, start, 4, |b| b.is_ascii_digit());
    ((1..=3).contains(&digits) && text.get(start + digits) == Some(&b'.'))
        .then_some(start + digits + 1)
}

/// `_IPV4_ANCHOR` may match at `dot` (where `text[dot] == b'.'`).
fn ipv4_anchor(text: &[u8], dot: usize) -> bool {
    // Most dots are followed by a name: an ASCII non-digit there is no `\d`.
    match text.get(dot + 1) {
        Some(&b) if b.is_ascii_digit() || !b.is_ascii() => {}
        _ => return false,
    }
    if any_non_ascii(text, dot.saturating_sub(4), dot + 10) {
        return true;
    }
    // `(?=\d{1,3}\.\d{1,3}\.\d)` after the dot.
    let ahead = digits_dot(text, dot + 1)
        .and_then(|next| digits_dot(text, next))
        .is_some_and(|last| text.get(last).is_some_and(|b| b.is_ascii_digit()));
    // `(?<=(?<![\w.\-])\d{n}\.)` for n in 1..=3.
    ahead
        && (1..=3).any(|n| {
            dot >= n
                && text[dot - n..dot].iter().all(u8::is_ascii_digit)
                && (dot == n || !(is_word(text[dot - n - 1]) || b".-".contains(&text[dot - n - 1])))
        })
}

/// `_IPV6_ANCHOR` may match at `colon` (where `text[colon] == b':'`).
fn ipv6_anchor(text: &[u8], colon: usize) -> bool {
    // The lookahead starts with a hex digit or `:` (both ASCII).
    match text.get(colon + 1) {
        Some(&b) if b.is_ascii_hexdigit() || b == b':' => {}
        _ => return false,
    }
    if any_non_ascii(text, colon.saturating_sub(5), colon + 7) {
        return true;
    }
    // `(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:\d])` after the colon.
    let hex = run(text, colon + 1, 5, |b| b.is_ascii_hexdigit());
    let next = colon + 1 + hex;
    let ahead = hex <= 4
        && text.get(next) == Some(&b':')
        && text
            .get(next + 1)
            .is_some_and(|&b| b.is_ascii_hexdigit() || b == b':');
    // `(?<=(?<![\w:.])[0-9A-Fa-f]{n}:)` for n in 0..=4.
    ahead
        && (0..=4).any(|n| {
            colon >= n
                && text[colon - n..colon].iter().all(u8::is_ascii_hexdigit)
                && (colon == n
                    || !(is_word(text[colon - n - 1]) || b":.".contains(&text[colon - n - 1])))
        })
}

/// The high bit of each of the eight bytes of `word` that is `@`, `.` or `:`, and no other bit
/// (per byte, `((y & 0x7f) + 0x7f) | y` has its high bit clear exactly when `y` is zero, and the sum
/// never carries into the next byte).
fn anchor_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero_bytes = |y: u64| !(((y & LOW7) + LOW7) | y) & !LOW7;
    zero_bytes(word ^ (ONES * u64::from(b'@')))
        | zero_bytes(word ^ (ONES * u64::from(b'.')))
        | zero_bytes(word ^ (ONES * u64::from(b':')))
}

type AnchorLists = (Vec<usize>, Vec<usize>, Vec<usize>, bool);

fn anchors_of(text: &[u8]) -> AnchorLists {
    let (mut email, mut ipv4, mut ipv6) = (Vec::new(), Vec::new(), Vec::new());
    let mut colons = 0usize;
    let mut double_colon = false;
    let ascii = text.is_ascii();
    // Character position of byte `counted_to`, advanced lazily (only non-ASCII texts need it).
    let (mut counted_to, mut chars) = (0usize, 0usize);
    let mut position = |at: usize| {
        if ascii {
            return at;
        }
        chars += text[counted_to..at]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count();
        counted_to = at;
        chars
    };
    let mut visit = |here: usize| match text[here] {
        b'@' if email_anchor(text, here) => email.push(position(here)),
        b'.' if ipv4_anchor(text, here) => ipv4.push(position(here)),
        b':' => {
            colons += 1;
            double_colon |= text.get(here + 1) == Some(&b':');
            if ipv6_anchor(text, here) {
                ipv6.push(position(here));
            }
        }
        _ => {}
    };
    // Eight bytes at a time: only the `@`, `.` and `:` among them are looked at, in text order.
    let mut words = text.chunks_exact(8);
    for (index, word) in words.by_ref().enumerate() {
        let mut mask = anchor_bytes(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        while mask != 0 {
            visit(8 * index + (mask.trailing_zeros() / 8) as usize);
            mask &= mask - 1;
        }
    }
    (text.len() - words.remainder().len()..text.len()).for_each(visit);
    (email, ipv4, ipv6, double_colon || colons >= 7)
}

/// `(email, ipv4, ipv6, may_hold_ipv6)`: the character positions, in increasing order, where
/// `pii._EMAIL_ANCHOR`, `_IPV4_ANCHOR` and `_IPV6_ANCHOR` may match (a superset that Python
/// confirms), and `pii._may_hold_ipv6(text)`.
#[pyfunction]
fn pii_anchors(text: &Bound<'_, PyString>) -> PyResult<AnchorLists> {
    let bytes = text_bytes(text)?;
    Ok(anchors_of(&bytes))
}

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pii_anchors, m)?)?;
    Ok(())
}
