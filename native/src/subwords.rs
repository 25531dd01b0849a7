//! camelCase sub-words for the code index (`backends/search/code_tokens.camel_subwords`), compiled.
//!
//! `camel_subwords(text)` returns the lines of the Python function it replaced
//! (`tests/support/subwords_reference.py`), in order of first occurrence:
//!
//! - the text is read as UTF-8, a `str` holding lone surrogates as its `surrogatepass` encoding; every
//!   byte that is not an ASCII letter or digit separates identifiers (the Python translated the bytes
//!   with a table mapping everything else to a space, then `bytes.split()`), so non-ASCII letters,
//!   digits and case never take part: no Unicode case rules are needed;
//! - a run is kept when it is neither `bytes.islower()` nor `bytes.isupper()` (on ASCII: it holds both
//!   an upper- and a lowercase letter, or no letter, which the pattern rejects anyway) and
//!   `[a-z0-9][A-Z]|[A-Z][A-Z][a-z]` matches in it;
//! - each kept run gives one line, `" ".join(re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+",
//!   run))` (no lowercasing), and the lines are joined by `"\n"`;
//! - each distinct run gives one line, in order of its first occurrence. The Python emitted them in the
//!   iteration order of a `set` of `bytes`, which follows Python's per-process randomised hash: the
//!   same text gave differently ordered lines in two processes. The set of lines is the same; only
//!   their order is now fixed (the order changes no match: each line is one identifier's sub-words).
//!
//! The text's UTF-8 is read with `PyUnicode_AsUTF8AndSize`: no copy for an ASCII `str`; for any other,
//! CPython builds the UTF-8 once and keeps it with the `str` for the `str`'s life, as large as the text
//! (with the `v2` scorer the quality scanner has already done so for the same normalised content).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

const LANES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// For 8 bytes below 0x80 (little-endian in `x`): the high bit of each lane whose byte is `>= lo`
/// (`x + 0x80 - lo` cannot carry into the next lane).
#[inline]
fn at_least(x: u64, lo: u8) -> u64 {
    x.wrapping_add(LANES * u64::from(0x80 - lo)) & HIGH
}

/// The ASCII letters and digits of a 64-byte block as a bit mask (bit `j` for `block[j]`): the bytes
/// the Python's translate table kept; with `KEEP_HIGH`, also every byte >= 0x80 (the UTF-8 of the
/// non-ASCII characters). Eight bytes at a time in a `u64` (SWAR): the classes are byte ranges, tested
/// by lane-wise additions; a multiplication gathers the eight lane bits.
#[inline]
fn word_mask<const KEEP_HIGH: bool>(block: &[u8; 64]) -> u64 {
    let mut mask = 0u64;
    for (j, word) in block.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let ascii = !w & HIGH;
        let x = w & !HIGH;
        let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
        let folded = x | (LANES * 0x20); // 'A'..='Z' -> 'a'..='z'
        let letter = at_least(folded, b'a') & !at_least(folded, b'z' + 1);
        let high = if KEEP_HIGH { w & HIGH } else { 0 };
        let lanes = (((digit | letter) & ascii) | high) >> 7;
        mask |= (lanes.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * j);
    }
    mask
}

/// Calls `emit(start, end)` for each maximal run `text[start..end]` of ASCII letters and digits (with
/// `KEEP_HIGH`, also bytes >= 0x80), in order (`text.translate(table).split()` of the Python). Works on
/// 64-byte bit masks, so that the branches follow runs, not bytes.
pub(crate) fn for_each_run<const KEEP_HIGH: bool>(text: &[u8], mut emit: impl FnMut(usize, usize)) {
    let mut open: Option<usize> = None; // start of a run that reached the end of the last block
    let mut padded = [0u8; 64];
    for (number, chunk) in text.chunks(64).enumerate() {
        let base = 64 * number;
        let block: &[u8; 64] = match chunk.try_into() {
            Ok(block) => block,
            Err(_) => {
                // The last, short block: zero bytes are separators.
                padded[..chunk.len()].copy_from_slice(chunk);
                &padded
            }
        };
        let mask = word_mask::<KEEP_HIGH>(block);
        let mut at = 0usize; // bits below `at` are done
        while at < 64 {
            match open {
                None => {
                    let rest = mask >> at;
                    if rest == 0 {
                        break;
                    }
                    at += rest.trailing_zeros() as usize;
                    open = Some(base + at);
                }
                Some(start) => {
                    let rest = !mask >> at;
                    if rest == 0 {
                        break; // the run goes on in the next block
                    }
                    at += rest.trailing_zeros() as usize;
                    emit(start, base + at);
                    open = None;
                }
            }
        }
    }
    if let Some(start) = open {
        emit(start, text.len());
    }
}

/// `not run.islower() and not run.isupper() and _CASE_CHANGE.search(run)` for a run of ASCII letters
/// and digits.
fn is_mixed(run: &[u8]) -> bool {
    let has_lower = run.iter().any(u8::is_ascii_lowercase);
    let has_upper = run.iter().any(u8::is_ascii_uppercase);
    has_lower
        && has_upper
        && (run.windows(2).any(|w| {
            (w[0].is_ascii_lowercase() || w[0].is_ascii_digit()) && w[1].is_ascii_uppercase()
        }) || run.windows(3).any(|w| {
            w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase() && w[2].is_ascii_lowercase()
        }))
}

/// Appends `" ".join(_SUBWORD.findall(run))` for a run of ASCII letters and digits, where `_SUBWORD` is
/// `[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+`. Every letter and digit starts a match of one of
/// the four branches, so the matches tile the run:
///
/// - at an uppercase letter starting `k` capitals: when `k >= 2` and a lowercase letter follows, the
///   first branch takes `k - 1` of them (the last capital begins the next word); when `k == 1` and a
///   lowercase letter follows, the second takes the capital and the lowercase letters; otherwise the
///   third takes all `k` capitals;
/// - at a lowercase letter the second branch takes the lowercase letters, at a digit the fourth the
///   digits.
fn push_subwords(run: &[u8], out: &mut Vec<u8>) {
    let n = run.len();
    let span = |from: usize, class: fn(&u8) -> bool| {
        from + run[from..].iter().take_while(|b| class(b)).count()
    };
    let mut i = 0;
    while i < n {
        let b = run[i];
        let end = if b.is_ascii_uppercase() {
            let caps = span(i, u8::is_ascii_uppercase);
            let lower_follows = caps < n && run[caps].is_ascii_lowercase();
            if lower_follows && caps - i >= 2 {
                caps - 1
            } else if lower_follows {
                span(caps, u8::is_ascii_lowercase)
            } else {
                caps
            }
        } else if b.is_ascii_lowercase() {
            span(i, u8::is_ascii_lowercase)
        } else {
            span(i, u8::is_ascii_digit)
        };
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&run[i..end]);
        i = end;
    }
}

/// The distinct runs of a text in order of first occurrence: an open-addressing table (linear probing,
/// at most half full) of the runs' positions, keyed by a run's first 8 bytes and its length, so that
/// runs up to 8 bytes (most identifiers) compare as two integers.
pub(crate) struct Distinct<'a> {
    text: &'a [u8],
    slots: Vec<Slot>,
    shift: u32,
    pub(crate) runs: Vec<&'a [u8]>,
}

/// One entry of `Distinct`'s table; `len == 0` marks an empty slot (runs are never empty).
#[derive(Clone, Copy, Default)]
struct Slot {
    head: u64,
    len: usize,
    start: usize,
}

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl<'a> Distinct<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        // About one distinct run per 40 bytes of source code (CPython's Lib, Go's tree): start with
        // room for that many, so that most texts never grow the table.
        let bits = (text.len() / 16)
            .clamp(256, 1 << 16)
            .next_power_of_two()
            .trailing_zeros();
        Distinct {
            text,
            slots: vec![Slot::default(); 1 << bits],
            shift: 64 - bits,
            runs: Vec::with_capacity(1 << (bits - 1)),
        }
    }

    /// The bytes `text[at..at + take]` (`take <= 8`) zero-padded to 8, little-endian.
    #[inline]
    fn word(&self, at: usize, take: usize) -> u64 {
        if let Some(bytes) = self.text.get(at..at + 8) {
            let word = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            if take == 8 {
                word
            } else {
                word & ((1u64 << (8 * take)) - 1)
            }
        } else {
            let mut word = [0u8; 8];
            word[..take].copy_from_slice(&self.text[at..at + take]);
            u64::from_le_bytes(word)
        }
    }

    /// The key of `text[start..start + len]` in the table: its first 8 bytes.
    #[inline]
    fn head(&self, start: usize, len: usize) -> u64 {
        self.word(start, len.min(8))
    }

    #[inline]
    fn hash(&self, head: u64, start: usize, len: usize) -> u64 {
        let mut h = (head ^ (len as u64).rotate_right(8)).wrapping_mul(MULTIPLIER);
        let mut at = start + 8;
        while at < start + len {
            let take = (start + len - at).min(8);
            h = (h.rotate_left(23) ^ self.word(at, take)).wrapping_mul(MULTIPLIER);
            at += 8;
        }
        h
    }

    /// Records `text[start..end]`; true when it was not seen before.
    #[inline(always)]
    pub(crate) fn insert(&mut self, start: usize, end: usize) -> bool {
        let len = end - start;
        let head = self.head(start, len);
        let mask = self.slots.len() - 1;
        let mut at = (self.hash(head, start, len) >> self.shift) as usize;
        loop {
            let slot = self.slots[at];
            if slot.len == 0 {
                break;
            }
            if slot.head == head
                && slot.len == len
                && (len <= 8 || self.text[slot.start..slot.start + len] == self.text[start..end])
            {
                return false;
            }
            at = (at + 1) & mask;
        }
        self.slots[at] = Slot { head, len, start };
        self.runs.push(&self.text[start..end]);
        if 2 * self.runs.len() > self.slots.len() {
            self.grow();
        }
        true
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let size = 2 * self.slots.len();
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        self.shift -= 1;
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|slot| slot.len != 0) {
            let mut at = (self.hash(slot.head, slot.start, slot.len) >> self.shift) as usize;
            while self.slots[at].len != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }
}

/// The string of `camel_subwords` for the UTF-8 (or surrogatepass) bytes of a text.
fn subwords_of(text: &[u8]) -> String {
    let mut distinct = Distinct::new(text);
    for_each_run::<false>(text, |start, end| {
        distinct.insert(start, end);
    });
    let mut out = Vec::new();
    for run in distinct.runs.iter().filter(|run| is_mixed(run)) {
        if !out.is_empty() {
            out.push(b'\n');
        }
        push_subwords(run, &mut out);
    }
    // Only ASCII letters, digits, spaces and newlines were written.
    String::from_utf8(out).expect("ASCII")
}

/// The sub-words of each distinct case-changing identifier of `text`, one line per identifier, in
/// order of first occurrence (`code_tokens.camel_subwords`).
#[pyfunction]
fn camel_subwords(text: &Bound<'_, PyString>) -> PyResult<String> {
    match text.to_str() {
        Ok(s) => Ok(subwords_of(s.as_bytes())),
        Err(_) => {
            // Lone surrogates: read the surrogatepass encoding, as the Python did.
            let encoded = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
            let encoded = encoded.cast::<PyBytes>()?;
            Ok(subwords_of(encoded.as_bytes()))
        }
    }
}

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(camel_subwords, m)?)
}
