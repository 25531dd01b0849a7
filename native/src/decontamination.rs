//! The decontamination search's per-text work, compiled (`codelupe_dagster._native.WordSplitter` and
//! `DecontaminationSearch`).
//!
//! `core/decontamination.py` keeps building the index (vocabulary, n-gram keys, owners, records) and every
//! decision after the search; this module reproduces, for one text and in one call, what its
//! `_hits` did with `token_bytes`, `numpy.fromiter`, `_has_known_run`, `_window_hashes` and the
//! bitmap + `searchsorted` lookup (the frozen oracle is `tests/support/hotpath_reference.py` and
//! `tests/support/decontamination_reference.py`):
//!
//! - words are `token_bytes(text)` = `tokens(text)` UTF-8 encoded (surrogatepass): an all-ASCII text
//!   is read as its bytes, any other text as the bytes of Python's own `text.lower()` (called from
//!   here, so Unicode lower-casing — the Kelvin sign, final sigma, `İ` — is Python's by construction),
//!   encoded with `surrogatepass` when it holds lone surrogates. Each byte goes through the translate
//!   table `_WORD_BYTES` passed in by Python (ASCII upper to lower case, ASCII punctuation but `_` and
//!   ASCII whitespace to a space); a byte whose translation is whitespace to `bytes.split` ends a word,
//!   and so does any of the UTF-8 sequences `_UNICODE_SPACES` (the characters beyond ASCII that
//!   `str.isspace` accepts), matched on the bytes before translation as `bytes.replace` did (well-formed
//!   UTF-8 of single characters cannot overlap, so the order of the replacements is immaterial);
//! - a word's value is the vocabulary's value of its bytes (63 bits, computed by Python), or `_UNKNOWN`;
//!   a value equal to `_UNKNOWN` counts as unknown, as in `values == _UNKNOWN`. The vocabulary is an
//!   open-addressing table whose lookups compare the bytes (exact);
//! - `DecontaminationSearch` reads a text beyond ASCII from its own UTF-8, without `text.lower()`, when
//!   Python passed `lower_first` (see `values_unlowered`): the running Python's case mappings, checked
//!   by `decontamination._lowerings`, make the words and their values the same; a text with a word that
//!   may lower to a vocabulary word beyond ASCII (the Kelvin sign, HumanEval's `≤`) is lowered as above;
//! - when no `ngram` consecutive values are all known, the text has no hit (the known-run prefilter);
//!   otherwise EVERY window is hashed, unknown words included, exactly as before: the polynomial
//!   `sum(v[i + k] * BASE^(ngram - 1 - k))` modulo 2^64, computed here as a rolling hash (exact in the
//!   ring of integers modulo 2^64, so bit for bit numpy's value);
//! - a window hits when its hash is one of the sorted, distinct index keys (a bit filter on the low bits
//!   first, then a binary search: exact equality, so the 2^-64 collisions of a window holding an unknown
//!   word are the same as before); the answer is the sorted, distinct positions of the hit keys, which
//!   are `_hits`'s positions in `self._keys`.

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

/// The value of every word that no evaluation set holds (`decontamination._UNKNOWN`).
const UNKNOWN: u64 = 0x1E37_79B9_7F4A_7C15;
/// The odd multiplier of the polynomial window hash (`decontamination._BASE`).
const BASE: u64 = 0xFF51_AFD7_ED55_8CCD;

/// A byte's part in splitting (after `Splitter::class`).
const WORD: u8 = 0;
const SEPARATOR: u8 = 1;
/// The first byte of some sequence of `wide_spaces` (otherwise read by `separator`).
const WIDE_LEAD: u8 = 2;

/// The running hash of a word's translated bytes, computed while the word is scanned: its first eight
/// bytes packed (longer words fold onto them), one rotate and one xor per byte. `Vocabulary` mixes it
/// with the length before it picks a slot, and compares the bytes.
#[inline]
fn hash_step(hash: u64, byte: u8) -> u64 {
    hash.rotate_left(8) ^ u64::from(byte)
}

/// How `token_bytes` reads a text: the translate table and the non-ASCII spaces.
#[derive(Clone)]
struct Splitter {
    table: [u8; 256],
    /// `table[b]` is whitespace to `bytes.split` (space, `\t\n\r\x0b\x0c`).
    separator: [bool; 256],
    class: [u8; 256],
    wide_spaces: Vec<Vec<u8>>,
}

impl Splitter {
    fn new(table: &[u8], wide_spaces: Vec<Vec<u8>>) -> PyResult<Self> {
        let table: [u8; 256] = table.try_into().map_err(|_| {
            PyValueError::new_err("the word table is a translate table of 256 bytes")
        })?;
        let mut separator = [false; 256];
        let mut class = [WORD; 256];
        for b in 0..256 {
            separator[b] = matches!(table[b], b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C);
            if separator[b] {
                class[b] = SEPARATOR;
            }
        }
        for space in &wide_spaces {
            // One character beyond ASCII, well-formed: then no two of them overlap in a text's UTF-8.
            let one_char = std::str::from_utf8(space).is_ok_and(|s| s.chars().count() == 1);
            if !one_char || space[0] < 0x80 {
                return Err(PyValueError::new_err(
                    "a wide space is the UTF-8 of one character beyond ASCII",
                ));
            }
            class[usize::from(space[0])] = WIDE_LEAD;
        }
        Ok(Splitter {
            table,
            separator,
            class,
            wide_spaces,
        })
    }

    /// The length of the separator that the byte at `data[i]`, a `WIDE_LEAD`, begins, if any: a wide
    /// space (matched first, on the untranslated bytes, as `bytes.replace` ran before `translate`), else
    /// the byte alone when it translates to whitespace.
    #[cold]
    fn wide_separator(&self, data: &[u8], i: usize) -> Option<usize> {
        match self.wide_spaces.iter().find(|s| data[i..].starts_with(s)) {
            Some(space) => Some(space.len()),
            None => self.separator[usize::from(data[i])].then_some(1),
        }
    }

    /// Calls `word(raw, hash, beyond_ascii)` with each word of `data` (the prepared bytes of a text): its
    /// untranslated bytes, the `hash_step` hash of its translated bytes and whether it holds a byte
    /// >= 0x80.
    #[inline]
    fn for_each_word(&self, data: &[u8], mut word: impl FnMut(&[u8], u64, bool)) {
        let class = &self.class;
        let table = &self.table;
        let n = data.len();
        let mut i = 0;
        while i < n {
            match class[usize::from(data[i])] {
                WORD => {}
                SEPARATOR => {
                    i += 1;
                    continue;
                }
                _ => {
                    if let Some(len) = self.wide_separator(data, i) {
                        i += len;
                        continue;
                    }
                }
            }
            let start = i;
            let mut hash = 0u64;
            let mut bits = 0u8;
            loop {
                let b = data[i];
                bits |= b;
                hash = hash_step(hash, table[usize::from(b)]);
                i += 1;
                if i == n {
                    break;
                }
                match class[usize::from(data[i])] {
                    WORD => {}
                    SEPARATOR => break,
                    _ => {
                        if self.wide_separator(data, i).is_some() {
                            break;
                        }
                    }
                }
            }
            word(&data[start..i], hash, bits >= 0x80);
        }
    }

    fn translated(&self, raw: &[u8]) -> Vec<u8> {
        raw.iter().map(|&b| self.table[usize::from(b)]).collect()
    }
}

/// Runs `f` on the bytes `token_bytes` translates: an ASCII text's own bytes, else the UTF-8
/// (surrogatepass) of Python's `text.lower()`.
fn with_prepared<R>(text: &Bound<'_, PyString>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    let py = text.py();
    if text.call_method0(intern!(py, "isascii"))?.is_truthy()? {
        return Ok(f(text.to_str()?.as_bytes()));
    }
    let lowered = text.call_method0(intern!(py, "lower"))?;
    let lowered = lowered.cast::<PyString>()?;
    match lowered.to_str() {
        Ok(s) => Ok(f(s.as_bytes())),
        Err(_) => {
            let encoded =
                lowered.call_method1(intern!(py, "encode"), ("utf-8", "surrogatepass"))?;
            Ok(f(encoded.cast::<PyBytes>()?.as_bytes()))
        }
    }
}

/// `decontamination.token_bytes`: `WordSplitter(_WORD_BYTES, _UNICODE_SPACES).words(text)`.
#[pyclass(frozen, module = "codelupe_dagster._native")]
struct WordSplitter {
    splitter: Splitter,
}

#[pymethods]
impl WordSplitter {
    #[new]
    fn new(table: &[u8], wide_spaces: Vec<Vec<u8>>) -> PyResult<Self> {
        Ok(WordSplitter {
            splitter: Splitter::new(table, wide_spaces)?,
        })
    }

    /// The text's words as bytes (`token_bytes`).
    fn words<'py>(&self, text: &Bound<'py, PyString>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let py = text.py();
        let mut out = Vec::new();
        let splitter = &self.splitter;
        with_prepared(text, |data| {
            splitter.for_each_word(data, |raw, _, _| {
                out.push(PyBytes::new(py, &splitter.translated(raw)));
            });
        })?;
        Ok(out)
    }
}

/// murmur3's 64-bit finaliser over a word's `hash_step` hash and length: every bit reaches the low bits
/// that pick its slot and the high bits of its tag.
fn mix(hash: u64, len: usize) -> u64 {
    let mut h = hash ^ (len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// A nonzero tag of 32 bits from a word's mixed hash; 0 marks a free slot.
fn tag(mixed: u64) -> u32 {
    (mixed >> 32) as u32 | 1
}

/// Where a vocabulary word's bytes are in `Vocabulary::words`, and its value.
#[derive(Clone, Copy, Default)]
struct Entry {
    value: u64,
    start: u32,
    len: u32,
}

/// The vocabulary by each word's bytes: an open-addressing table (linear probing, half full) whose
/// tags (4 bytes a slot, in cache) reject most absent words; a lookup compares the bytes, so it is
/// exact. Built from the evaluation sets, never from the texts searched.
struct Vocabulary {
    tags: Vec<u32>,
    entries: Vec<Entry>,
    mask: usize,
    words: Vec<u8>,
    /// The longest word in bytes: a longer word is unknown without a lookup.
    longest: usize,
}

impl Vocabulary {
    fn new(entries: Vec<(Vec<u8>, u64)>, table: &[u8; 256]) -> PyResult<Self> {
        let size = (2 * entries.len()).max(16).next_power_of_two();
        let mut vocabulary = Vocabulary {
            tags: vec![0; size],
            entries: vec![Entry::default(); size],
            mask: size - 1,
            words: Vec::new(),
            longest: 0,
        };
        let too_long = || PyValueError::new_err("the vocabulary is limited to 4 GiB of words");
        for (word, value) in entries {
            // The hash a text's word gets: that of its translated bytes (a vocabulary word is its own
            // translation when it is a word of `tokens`; one that is not can never be found, as before).
            let mixed = mix(
                word.iter()
                    .fold(0, |h, &b| hash_step(h, table[usize::from(b)])),
                word.len(),
            );
            let mut i = mixed as usize & vocabulary.mask;
            while vocabulary.tags[i] != 0 {
                i = (i + 1) & vocabulary.mask;
            }
            vocabulary.tags[i] = tag(mixed);
            vocabulary.entries[i] = Entry {
                value,
                start: u32::try_from(vocabulary.words.len()).map_err(|_| too_long())?,
                len: u32::try_from(word.len()).map_err(|_| too_long())?,
            };
            vocabulary.longest = vocabulary.longest.max(word.len());
            vocabulary.words.extend_from_slice(&word);
        }
        Ok(vocabulary)
    }

    /// The value of the word whose untranslated bytes are `raw` and translated hash `hash`.
    #[inline(always)]
    fn get(&self, raw: &[u8], hash: u64, table: &[u8; 256]) -> Option<u64> {
        if raw.len() > self.longest {
            return None;
        }
        let mixed = mix(hash, raw.len());
        let wanted = tag(mixed);
        let mut i = mixed as usize & self.mask;
        loop {
            let found = self.tags[i];
            if found == 0 {
                return None;
            }
            if found == wanted {
                let entry = &self.entries[i];
                if entry.len as usize == raw.len() {
                    let start = entry.start as usize;
                    let stored = &self.words[start..start + raw.len()];
                    if stored
                        .iter()
                        .zip(raw)
                        .all(|(&s, &b)| s == table[usize::from(b)])
                    {
                        return Some(entry.value);
                    }
                }
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// The index's tables for the search: `DecontaminationIndex._hits(text)` in one call.
#[pyclass(frozen, module = "codelupe_dagster._native")]
struct DecontaminationSearch {
    splitter: Splitter,
    vocabulary: Vocabulary,
    keys: Vec<u64>,
    /// A bit per slot, about 16 slots per key, set at each key's low bits.
    filter: Vec<u64>,
    slot_mask: u64,
    ngram: usize,
    /// Texts beyond ASCII may be read without Python's `lower()` (see `values_unlowered`).
    #[pyo3(get)]
    unlowered: bool,
    /// The UTF-8 (surrogatepass) of the characters beyond ASCII whose `lower()` may be part of a
    /// vocabulary word: a word of a text made only of ASCII and of these needs `lower()`.
    lower_first: Vec<Vec<u8>>,
}

#[pymethods]
impl DecontaminationSearch {
    /// `vocabulary`: word bytes -> value (below 2^64); `keys`: the sorted distinct n-gram hashes as
    /// little-endian u64; `ngram`: words per window; `lower_first`: the UTF-8 (surrogatepass) of every
    /// character beyond ASCII some lowering of which is made only of ASCII and of characters of the
    /// vocabulary's words, given only where the running Python's `lower()` never turns a word character
    /// into a separator or the other way round (`None`: every text beyond ASCII is read through
    /// `lower()`).
    #[new]
    #[pyo3(signature = (splitter, *, vocabulary, keys, ngram, lower_first=None))]
    fn new(
        splitter: &WordSplitter,
        vocabulary: &Bound<'_, PyDict>,
        keys: &[u8],
        ngram: usize,
        lower_first: Option<Vec<Vec<u8>>>,
    ) -> PyResult<Self> {
        if ngram < 1 || u32::try_from(ngram).is_err() {
            return Err(PyValueError::new_err("ngram must be >= 1 and below 2^32"));
        }
        if !keys.len().is_multiple_of(8) {
            return Err(PyValueError::new_err(
                "keys are little-endian u64, 8 bytes each",
            ));
        }
        let keys: Vec<u64> = keys
            .chunks_exact(8)
            .map(|c| {
                let mut word = [0u8; 8];
                word.copy_from_slice(c);
                u64::from_le_bytes(word)
            })
            .collect();
        if keys.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(PyValueError::new_err("keys must be sorted and distinct"));
        }
        let mut entries = Vec::with_capacity(vocabulary.len());
        for (word, value) in vocabulary.iter() {
            entries.push((
                word.cast::<PyBytes>()?.as_bytes().to_vec(),
                value.extract::<u64>()?,
            ));
        }
        let vocabulary = Vocabulary::new(entries, &splitter.splitter.table)?;
        if let Some(chars) = &lower_first
            && chars.iter().any(|c| {
                c.first()
                    .is_none_or(|&b| b < 0xC0 || sequence_len(b) != c.len())
            })
        {
            return Err(PyValueError::new_err(
                "lower_first holds the UTF-8 of single characters beyond ASCII",
            ));
        }
        let bits = (16 * keys.len()).max(1024).next_power_of_two();
        let mut filter = vec![0u64; bits / 64];
        let slot_mask = (bits - 1) as u64;
        for &key in &keys {
            let slot = (key & slot_mask) as usize;
            filter[slot / 64] |= 1 << (slot % 64);
        }
        Ok(DecontaminationSearch {
            splitter: splitter.splitter.clone(),
            vocabulary,
            keys,
            filter,
            slot_mask,
            ngram,
            unlowered: lower_first.is_some(),
            lower_first: lower_first.unwrap_or_default(),
        })
    }

    /// The sorted, distinct positions in the keys of the n-grams the text shares with the index.
    fn hits(&self, text: &Bound<'_, PyString>) -> PyResult<Vec<usize>> {
        if self.keys.is_empty() {
            return Ok(Vec::new());
        }
        let py = text.py();
        let values = if self.unlowered && !text.call_method0(intern!(py, "isascii"))?.is_truthy()? {
            let encoded = text.call_method1(intern!(py, "encode"), ("utf-8", "surrogatepass"))?;
            match self.values_unlowered(encoded.cast::<PyBytes>()?.as_bytes()) {
                Some(values) => values,
                None => with_prepared(text, |data| self.values(data))?,
            }
        } else {
            with_prepared(text, |data| self.values(data))?
        };
        Ok(match values {
            Some(values) => self.lookup(&values),
            None => Vec::new(),
        })
    }

    /// Indexed n-grams.
    fn __len__(&self) -> usize {
        self.keys.len()
    }
}

impl DecontaminationSearch {
    /// The value of every word of the prepared text, or None when no `ngram` consecutive ones are all
    /// known (`_has_known_run` false, which includes fewer than `ngram` words).
    fn values(&self, data: &[u8]) -> Option<Vec<u64>> {
        let mut values = Vec::new();
        let mut run = 0usize;
        let mut known_run = false;
        let table = &self.splitter.table;
        self.splitter.for_each_word(data, |raw, hash, _| {
            let value = self.vocabulary.get(raw, hash, table).unwrap_or(UNKNOWN);
            if value == UNKNOWN {
                run = 0;
            } else {
                run += 1;
                known_run |= run >= self.ngram;
            }
            values.push(value);
        });
        known_run.then_some(values)
    }

    /// `values` of a text beyond ASCII read from its own UTF-8 (surrogatepass), not from its `lower()`;
    /// None when the text needs `lower()` after all (a word made only of ASCII and of `lower_first`).
    /// Exact because, in the running Python (`decontamination._lowerings` checks it): lowering keeps
    /// every character's class, so the words are the same pieces of the text; an ASCII word's lowering
    /// is its ASCII lower case, which `table` applies, whatever its context; and a word holding a
    /// character beyond ASCII outside `lower_first` lowers to a word holding a character (beyond ASCII)
    /// that no vocabulary word holds, so its value is `_UNKNOWN`.
    fn values_unlowered(&self, data: &[u8]) -> Option<Option<Vec<u64>>> {
        let mut values = Vec::new();
        let mut run = 0usize;
        let mut known_run = false;
        let mut needs_lower = false;
        let table = &self.splitter.table;
        self.splitter
            .for_each_word(data, |raw, hash, beyond_ascii| {
                let value = if !beyond_ascii {
                    self.vocabulary.get(raw, hash, table).unwrap_or(UNKNOWN)
                } else {
                    needs_lower = needs_lower || self.only_lower_first(raw);
                    UNKNOWN
                };
                if value == UNKNOWN {
                    run = 0;
                } else {
                    run += 1;
                    known_run |= run >= self.ngram;
                }
                values.push(value);
            });
        (!needs_lower).then(|| known_run.then_some(values))
    }

    /// Whether every character beyond ASCII of the word is one of `lower_first`.
    fn only_lower_first(&self, raw: &[u8]) -> bool {
        let mut i = 0;
        while i < raw.len() {
            if raw[i] < 0x80 {
                i += 1;
                continue;
            }
            let end = (i + sequence_len(raw[i])).min(raw.len());
            if !self
                .lower_first
                .iter()
                .any(|c| c.as_slice() == &raw[i..end])
            {
                return false;
            }
            i = end;
        }
        true
    }

    /// Positions of the window hashes that are keys, sorted and distinct.
    fn lookup(&self, values: &[u64]) -> Vec<usize> {
        let n = self.ngram;
        let mut found = Vec::new();
        if values.len() < n {
            return found;
        }
        let mut check = |hash: u64| {
            let slot = (hash & self.slot_mask) as usize;
            if self.filter[slot / 64] & (1 << (slot % 64)) != 0
                && let Ok(position) = self.keys.binary_search(&hash)
            {
                found.push(position);
            }
        };
        let top = BASE.wrapping_pow(u32::try_from(n - 1).unwrap_or(u32::MAX)); // BASE^(ngram - 1): the leaving word's weight
        let mut hash = values[..n]
            .iter()
            .fold(0u64, |acc, &v| acc.wrapping_mul(BASE).wrapping_add(v));
        check(hash);
        for i in n..values.len() {
            hash = hash
                .wrapping_sub(values[i - n].wrapping_mul(top))
                .wrapping_mul(BASE)
                .wrapping_add(values[i]);
            check(hash);
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// The length of the UTF-8 (or surrogatepass) sequence that starts with `lead`; 1 for ASCII and for a
/// byte that cannot start a sequence.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Adds this file's classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<WordSplitter>()?;
    m.add_class::<DecontaminationSearch>()?;
    Ok(())
}
