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
//!   open-addressing table whose lookups compare the words (exact: a word of up to eight bytes is its
//!   hash, a longer one's bytes are compared);
//! - the text's own bytes (an ASCII text, or one beyond ASCII read without `lower()`) are split from a
//!   bitmap of word bytes and each ASCII word hashed from eight-byte loads lowered together
//!   (`Splitter::for_each_fast_word`), when the table lowers ASCII word bytes as `_WORD_BYTES` does;
//!   `text.lower()`'s bytes, and any other table, are read a byte at a time (`Splitter::for_each_word`):
//!   the same words and hashes;
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

/// The hash of a word's translated bytes: the bytes as little-endian u64 chunks (the last one padded
/// with zeros), folded. A word of up to eight bytes is its one chunk, so an ASCII text's words are hashed
/// from one unaligned load each (`AsciiWords`). `Vocabulary` mixes the hash with the length before it
/// picks a slot, and compares the bytes, so collisions cost a comparison, never an answer.
#[inline(always)]
fn fold(hash: u64, chunk: u64) -> u64 {
    hash.rotate_left(23) ^ chunk
}

/// `fold` over a word's translated bytes fed one at a time (the scan of texts beyond ASCII).
#[derive(Default)]
struct WordHasher {
    hash: u64,
    chunk: u64,
    shift: u32,
}

impl WordHasher {
    #[inline(always)]
    fn push(&mut self, byte: u8) {
        self.chunk |= u64::from(byte) << self.shift;
        self.shift += 8;
        if self.shift == 64 {
            self.hash = fold(self.hash, self.chunk);
            self.chunk = 0;
            self.shift = 0;
        }
    }

    #[inline(always)]
    fn finish(&self) -> u64 {
        if self.shift > 0 {
            fold(self.hash, self.chunk)
        } else {
            self.hash
        }
    }
}

/// ASCII upper case to lower case in each byte of `x`, all of whose bytes are below 0x80 (no sum below
/// carries into the next byte): a byte gets 0x20 when it is at least `A` and not above `Z`.
#[inline(always)]
fn ascii_lower_bytes(x: u64) -> u64 {
    let at_least_a = x.wrapping_add(0x3F3F_3F3F_3F3F_3F3F); // high bit set iff byte >= 0x41
    let above_z = x.wrapping_add(0x2525_2525_2525_2525); // high bit set iff byte >= 0x5B
    x | ((at_least_a & !above_z & 0x8080_8080_8080_8080) >> 2)
}

/// The `len` (1..=8) bytes of `data` at `at` as a little-endian u64, zero-padded.
#[inline(always)]
fn load_chunk(data: &[u8], at: usize, len: usize) -> u64 {
    let chunk = if at + 8 <= data.len() {
        u64::from_le_bytes(data[at..at + 8].try_into().unwrap_or([0; 8]))
    } else {
        data[at..]
            .iter()
            .take(8)
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    if len >= 8 {
        chunk
    } else {
        chunk & ((1u64 << (8 * len)) - 1)
    }
}

/// The next bit at or after `from` in `bits` that is set (`flip` 0) or clear (`flip` all ones), or
/// `usize::MAX` (bits past the text are clear).
#[inline(always)]
fn next_bit(bits: &[u64], from: usize, flip: u64) -> usize {
    let mut i = from / 64;
    if i >= bits.len() {
        return usize::MAX;
    }
    let mut word = (bits[i] ^ flip) & (!0u64 << (from % 64));
    loop {
        if word != 0 {
            return i * 64 + word.trailing_zeros() as usize;
        }
        i += 1;
        if i == bits.len() {
            return usize::MAX;
        }
        word = bits[i] ^ flip;
    }
}

/// How `token_bytes` reads a text: the translate table and the non-ASCII spaces.
#[derive(Clone)]
struct Splitter {
    table: [u8; 256],
    /// `table[b]` is whitespace to `bytes.split` (space, `\t\n\r\x0b\x0c`).
    separator: [bool; 256],
    class: [u8; 256],
    wide_spaces: Vec<Vec<u8>>,
    /// 1 for a byte that is part of a word unless a wide space starts there (`class` WORD, or WIDE_LEAD
    /// and not a separator by itself), else 0: the word bitmap of `for_each_fast_word`.
    word_bit: [u8; 256],
    /// Whether every ASCII word byte translates to its ASCII lower case (as `_WORD_BYTES` does): then
    /// ASCII words are hashed eight bytes at a time (`for_each_fast_word`).
    ascii_lowers: bool,
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
        let mut word_bit = [0u8; 256];
        for b in 0..256 {
            word_bit[b] = u8::from(class[b] == WORD || (class[b] == WIDE_LEAD && !separator[b]));
        }
        let ascii_lowers = (0..128u8)
            .filter(|&b| class[usize::from(b)] == WORD)
            .all(|b| table[usize::from(b)] == b.to_ascii_lowercase());
        Ok(Splitter {
            table,
            separator,
            class,
            wide_spaces,
            word_bit,
            ascii_lowers,
        })
    }

    /// Calls `word(start, end, hash)` with each word of `data` (a text's own UTF-8, when `ascii_lowers`;
    /// the caller checks): the same words as `for_each_word`, and for a word made only of ASCII the same
    /// hash (`None` for a word with a byte beyond ASCII, which the caller does not look up). The words
    /// come from a bitmap of word bytes (wide spaces cleared), found by counting trailing zeros, and are
    /// hashed from unaligned eight-byte loads lowered together: neither the bytes nor the word
    /// boundaries take a branch each.
    #[inline]
    fn for_each_fast_word(&self, data: &[u8], mut word: impl FnMut(usize, usize, Option<u64>)) {
        let n = data.len();
        let mut bits = vec![0u64; n.div_ceil(64)];
        for (block, bytes) in bits.iter_mut().zip(data.chunks(64)) {
            let mut mask = 0u64;
            for (j, &b) in bytes.iter().enumerate() {
                mask |= u64::from(self.word_bit[usize::from(b)]) << j;
            }
            *block = mask;
        }
        if !data.is_ascii() {
            self.clear_wide_spaces(data, &mut bits);
        }
        let mut at = 0;
        loop {
            let start = next_bit(&bits, at, 0);
            if start >= n {
                return;
            }
            let end = next_bit(&bits, start, !0).min(n);
            let mut hash = 0u64;
            let mut high = 0u64;
            let mut k = start;
            while end - k > 8 {
                let chunk = load_chunk(data, k, 8);
                high |= chunk;
                hash = fold(hash, ascii_lower_bytes(chunk));
                k += 8;
            }
            let chunk = load_chunk(data, k, end - k);
            high |= chunk;
            hash = fold(hash, ascii_lower_bytes(chunk));
            word(
                start,
                end,
                (high & 0x8080_8080_8080_8080 == 0).then_some(hash),
            );
            at = end;
        }
    }

    /// Clears the bits of every wide space in `data`: they separate words (`wide_separator`).
    #[cold]
    fn clear_wide_spaces(&self, data: &[u8], bits: &mut [u64]) {
        let mut i = 0;
        while i < data.len() {
            if self.class[usize::from(data[i])] == WIDE_LEAD
                && let Some(space) = self.wide_spaces.iter().find(|s| data[i..].starts_with(s))
            {
                for k in i..i + space.len() {
                    bits[k / 64] &= !(1u64 << (k % 64));
                }
                i += space.len();
                continue;
            }
            i += 1;
        }
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
    /// untranslated bytes, the `fold` hash of its translated bytes and whether it holds a byte
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
            let mut hash = WordHasher::default();
            let mut bits = 0u8;
            loop {
                let b = data[i];
                bits |= b;
                hash.push(table[usize::from(b)]);
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
            word(&data[start..i], hash.finish(), bits >= 0x80);
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

/// murmur3's 64-bit finaliser over a word's `fold` hash and length: every bit reaches the low bits
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
    /// The word's `fold` hash: for a word of up to eight bytes, its translated bytes themselves, so
    /// that equal hashes and lengths are equal words without reading `Vocabulary::words`.
    hash: u64,
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
    fn new(entries: Vec<(Vec<u8>, u64)>) -> PyResult<Self> {
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
            // A text's word is this one when its translated bytes are this word's bytes (`get`), so the
            // slot and the stored hash come from the word's bytes as they are. A vocabulary word of
            // `tokens` is its own translation; one that is not cannot be found, as before.
            let mut hasher = WordHasher::default();
            for &b in &word {
                hasher.push(b);
            }
            let hash = hasher.finish();
            let mixed = mix(hash, word.len());
            let mut i = mixed as usize & vocabulary.mask;
            while vocabulary.tags[i] != 0 {
                i = (i + 1) & vocabulary.mask;
            }
            vocabulary.tags[i] = tag(mixed);
            vocabulary.entries[i] = Entry {
                value,
                hash,
                start: u32::try_from(vocabulary.words.len()).map_err(|_| too_long())?,
                len: u32::try_from(word.len()).map_err(|_| too_long())?,
            };
            vocabulary.longest = vocabulary.longest.max(word.len());
            vocabulary.words.extend_from_slice(&word);
        }
        Ok(vocabulary)
    }

    /// The value of the word whose untranslated bytes are `raw` and translated hash `hash`: the entry
    /// whose stored word is `raw` translated. Equal hashes and lengths are equal words up to eight bytes
    /// (the hash is the bytes); a longer word's bytes are compared.
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
                if entry.len as usize == raw.len() && entry.hash == hash {
                    if raw.len() <= 8 {
                        return Some(entry.value);
                    }
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
        let vocabulary = Vocabulary::new(entries)?;
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
        let values = if text.call_method0(intern!(py, "isascii"))?.is_truthy()? {
            self.values_ascii(text.to_str()?.as_bytes())
        } else if self.unlowered {
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
        let mut known = KnownRun::new(self.ngram);
        self.splitter.for_each_word(data, |raw, hash, _| {
            let value = self.value(raw, hash);
            known.push(value);
            values.push(value);
        });
        known.found.then_some(values)
    }

    /// `values` of an all-ASCII text (its own bytes, which `token_bytes` reads as they are).
    fn values_ascii(&self, data: &[u8]) -> Option<Vec<u64>> {
        if !self.splitter.ascii_lowers {
            return self.values(data);
        }
        let mut values = Vec::with_capacity(data.len() / 4);
        let mut known = KnownRun::new(self.ngram);
        self.splitter.for_each_fast_word(data, |start, end, hash| {
            let value = hash.map_or(UNKNOWN, |hash| self.value(&data[start..end], hash)); // always Some: ASCII
            known.push(value);
            values.push(value);
        });
        known.found.then_some(values)
    }

    /// The vocabulary's value of the word with untranslated bytes `raw` and translated hash `hash`, or
    /// `UNKNOWN`.
    #[inline(always)]
    fn value(&self, raw: &[u8], hash: u64) -> u64 {
        self.vocabulary
            .get(raw, hash, &self.splitter.table)
            .unwrap_or(UNKNOWN)
    }

    /// `values` of a text beyond ASCII read from its own UTF-8 (surrogatepass), not from its `lower()`;
    /// None when the text needs `lower()` after all (a word made only of ASCII and of `lower_first`).
    /// Exact because, in the running Python (`decontamination._lowerings` checks it): lowering keeps
    /// every character's class, so the words are the same pieces of the text; an ASCII word's lowering
    /// is its ASCII lower case, which `table` applies, whatever its context; and a word holding a
    /// character beyond ASCII outside `lower_first` lowers to a word holding a character (beyond ASCII)
    /// that no vocabulary word holds, so its value is `_UNKNOWN`.
    fn values_unlowered(&self, data: &[u8]) -> Option<Option<Vec<u64>>> {
        let mut values = Vec::with_capacity(data.len() / 4);
        let mut known = KnownRun::new(self.ngram);
        let mut needs_lower = false;
        let mut value_of = |raw: &[u8], hash: Option<u64>| {
            let value = match hash {
                Some(hash) => self.value(raw, hash),
                None => {
                    needs_lower = needs_lower || self.only_lower_first(raw);
                    UNKNOWN
                }
            };
            known.push(value);
            values.push(value);
        };
        if self.splitter.ascii_lowers {
            self.splitter
                .for_each_fast_word(data, |start, end, hash| value_of(&data[start..end], hash));
        } else {
            self.splitter
                .for_each_word(data, |raw, hash, beyond_ascii| {
                    value_of(raw, (!beyond_ascii).then_some(hash));
                });
        }
        (!needs_lower).then(|| known.found.then_some(values))
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

/// Whether `ngram` consecutive values were known (`_has_known_run`), fed one value at a time.
struct KnownRun {
    ngram: usize,
    run: usize,
    found: bool,
}

impl KnownRun {
    fn new(ngram: usize) -> Self {
        KnownRun {
            ngram,
            run: 0,
            found: false,
        }
    }

    #[inline(always)]
    fn push(&mut self, value: u64) {
        if value == UNKNOWN {
            self.run = 0;
        } else {
            self.run += 1;
            self.found |= self.run >= self.ngram;
        }
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
