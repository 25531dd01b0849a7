//! MinHash shingling, signatures and band keys, compiled (`core/minhash.py`): text in, shingle hashes
//! or the signature out, in one call.
//!
//! The Python it replaced (`tests/support/hotpath_reference.py`, commit 4d5b659) tokenised with
//! `bytes.translate` + `split`, hashed each token with `rensa.RMinHash.hash_token_sets`, combined
//! `n` consecutive token hashes into a shingle hash with numpy, and gave those to
//! `rensa.RMinHash.digest_matrix_from_flat_token_hashes` (rensa 0.5.0). This module reproduces
//! every step bit for bit, rensa's included (its source is not a dependency: rensa is not on
//! crates.io, and both of its hashes are reproduced here from rensa 0.5.0's sdist):
//!
//! - **Tokens**: the text's UTF-8 bytes (`surrogatepass` when it holds lone surrogates, so a
//!   surrogate is three bytes >= 0x80), ASCII `A`-`Z` lowercased, split on every byte that is not an
//!   ASCII letter, digit, `_` or `$` and not >= 0x80. All of it is byte arithmetic: Python's
//!   Unicode classes never enter (`bytes.lower` and `bytes.split` are ASCII-only as well).
//! - **Token hash**: rensa's `calculate_hash_fast`, which is `rustc_hash::FxHasher` (2.x) writing
//!   the token's bytes once and finishing: a 16-byte-block multiply-xor mix of the bytes, then
//!   `* 0xf1357aea2e62a9c5` and `rotate_left(26)`.
//! - **Shingle hash**: `h[i] * 0x9E3779B97F4A7C15 ^ h[i+1]`, and so on over `n` tokens, wrapping
//!   (the numpy loop's uint64 arithmetic). `n <= 0` behaves as `n = 1` there, so it does here.
//! - **Signature**: rensa 0.5.0's R-MinHash (`ALGORITHM_VERSION` 2) is a bucket sketch: with
//!   `(a_k, b_k)` drawn from `Xoshiro256PlusPlus::seed_from_u64(seed)` (SplitMix64 seeding, `a`
//!   made odd), coordinate `k` is the minimum over the shingle hashes `h` of three rounds
//!   `r = 0, 1, 2`: `m = splitmix64(h ^ b_0 ^ BUCKET ^ r * ROUND)` lands in bucket
//!   `lemire(low 32 bits of m, num_perm)` with rank `r << 30 | m >> 34`; a coordinate no round
//!   reached takes the fallback `3 << 30 | (a_k * f + b_k) >> 34` with
//!   `f = splitmix64(h ^ a_0 ^ FALLBACK)`. Because the round is the rank's top bits, the fallback
//!   matters only for coordinates the rounds left empty, and the rounds stop once all are filled;
//!   rensa's faster paths (early filtering, SIMD kernels, caches) compute the same minimum.
//! - **Band keys** (`minhash.band_keys`): per band `b`, xxh3-64 with seed `b` (the `xxhash-rust`
//!   crate) of the band's values as native-endian uint32s (`array("I", sig)`), big-endian bytes as
//!   `xxhash.xxh3_64_digest` returns them.
//!
//! Speed: the text is classified 64 bytes at a time into a bit mask (SWAR on 8-byte words) and the
//! tokens are read off the mask's edges, so there is no branch per byte; upper case is lowered word
//! by word inside the token hash instead of copying the token.
//!
//! `tests/core/test_native_minhash.py` and `tests/core/test_hotpath_equivalence.py` compare all of
//! it with the installed rensa and the frozen Python on CPython's and Go's sources and on
//! adversarial texts.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Odd 64-bit multiplier combining consecutive token hashes (`minhash._SHINGLE_MIX`).
const SHINGLE_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Eight copies of the byte 1, for byte-parallel arithmetic in a `u64` (SWAR).
const ONES: u64 = 0x0101_0101_0101_0101;

// rensa's `calculate_hash_fast` (rustc_hash 2.x `FxHasher::write` + `finish`).
const FX_SEED1: u64 = 0x243f_6a88_85a3_08d3;
const FX_SEED2: u64 = 0x1319_8a2e_0370_7344;
const FX_PREVENT_TRIVIAL_ZERO_COLLAPSE: u64 = 0xa409_3822_299f_31d0;
const FX_K: u64 = 0xf135_7aea_2e62_a9c5;
const FX_ROTATE: u32 = 26;

// rensa 0.5.0's bucket sketch (`src/rminhash/bucket.rs`).
const RANK_BITS: u32 = 2;
const FRACTION_BITS: u32 = 32 - RANK_BITS;
const BUCKET_ROUNDS: u32 = (1 << RANK_BITS) - 1;
const FALLBACK: u32 = BUCKET_ROUNDS << FRACTION_BITS;
const BUCKET_DOMAIN: u64 = 0x6a09_e667_f3bc_c909;
const ROUND_DOMAIN: u64 = 0x3c6e_f372_fe94_f82b;
const FALLBACK_DOMAIN: u64 = 0xbb67_ae85_84ca_a73b;

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn read_u32(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(word))
}

fn multiply_mix(x: u64, y: u64) -> u64 {
    let full = u128::from(x) * u128::from(y);
    (full as u64) ^ ((full >> 64) as u64)
}

/// ASCII `A`-`Z` lowercased in each byte of `x`; every other byte (>= 0x80 included) unchanged.
fn lower8(x: u64) -> u64 {
    let heptets = x & (0x7f * ONES);
    let above_z = heptets + u64::from(0x7f - b'Z') * ONES;
    let from_a = heptets + u64::from(0x80 - b'A') * ONES;
    let upper = !x & (from_a ^ above_z) & (0x80 * ONES);
    x | (upper >> 2)
}

/// rensa's token hash of `bytes` (`RMinHash.hash_token_sets` on a `bytes` token); with `LOWER`, of
/// `bytes.lower()`, lowering each word as it is read instead of copying the token.
fn token_hash<const LOWER: bool>(bytes: &[u8]) -> u64 {
    let fold = |x: u64| if LOWER { lower8(x) } else { x };
    let len = bytes.len();
    let mut s0 = FX_SEED1;
    let mut s1 = FX_SEED2;
    if len <= 16 {
        if len >= 8 {
            s0 ^= fold(read_u64(bytes, 0));
            s1 ^= fold(read_u64(bytes, len - 8));
        } else if len >= 4 {
            s0 ^= fold(read_u32(bytes, 0));
            s1 ^= fold(read_u32(bytes, len - 4));
        } else if len > 0 {
            s0 ^= fold(u64::from(bytes[0]));
            s1 ^= (fold(u64::from(bytes[len - 1])) << 8) | fold(u64::from(bytes[len / 2]));
        }
    } else {
        let mut off = 0;
        while off < len - 16 {
            let x = fold(read_u64(bytes, off));
            let y = fold(read_u64(bytes, off + 8));
            let t = multiply_mix(s0 ^ x, FX_PREVENT_TRIVIAL_ZERO_COLLAPSE ^ y);
            s0 = s1;
            s1 = t;
            off += 16;
        }
        s0 ^= fold(read_u64(bytes, len - 16));
        s1 ^= fold(read_u64(bytes, len - 8));
    }
    let compressed = multiply_mix(s0, s1) ^ (len as u64);
    compressed.wrapping_mul(FX_K).rotate_left(FX_ROTATE)
}

/// Bit 7 of each byte of `heptets` (bytes < 0x80) set where that byte lies in `lo..=hi`.
fn in_range(heptets: u64, lo: u8, hi: u8) -> u64 {
    let from_lo = heptets + u64::from(0x80 - lo) * ONES;
    let above_hi = heptets + u64::from(0x7f - hi) * ONES;
    from_lo & !above_hi
}

/// Bit `i` set where byte `i` of the little-endian word `x` is an identifier byte of
/// `minhash._IDENTIFIER_BYTES`: an ASCII letter, digit, `_` or `$`, or any byte >= 0x80.
fn word_mask(x: u64) -> u64 {
    let heptets = x & (0x7f * ONES);
    let folded = heptets | (0x20 * ONES); // `A`-`Z` onto `a`-`z`; nothing else lands there
    let identifier = x
        | in_range(folded, b'a', b'z')
        | in_range(heptets, b'0', b'9')
        | in_range(heptets, b'_', b'_')
        | in_range(heptets, b'$', b'$');
    // The top bit of each byte, gathered into the low eight bits.
    (((identifier >> 7) & ONES).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Bit `i` set where `chunk[i]` (at most 64 bytes) is an identifier byte.
fn chunk_mask(chunk: &[u8]) -> u64 {
    let mut padded = [b' '; 64];
    let words: &[u8] = if chunk.len() == 64 {
        chunk
    } else {
        padded[..chunk.len()].copy_from_slice(chunk);
        &padded
    };
    words
        .chunks_exact(8)
        .enumerate()
        .fold(0, |mask, (i, word)| {
            mask | (word_mask(read_u64(word, 0)) << (8 * i))
        })
}

/// The token hashes of a text's UTF-8 bytes, in order: `minhash._token_bytes` (runs of identifier
/// bytes, ASCII lowercased), each hashed as rensa does. The text is classified 64 bytes at a time
/// into a bit mask; the tokens are read off the mask's edges, without a branch per byte.
fn token_hashes(text: &[u8]) -> Vec<u64> {
    let mut hashes = Vec::with_capacity(text.len() / 6);
    let mut start = 0;
    let mut inside = false;
    for (c, chunk) in text.chunks(64).enumerate() {
        let mask = chunk_mask(chunk);
        // Bit i set where byte i starts or ends a token (its class differs from the byte before).
        let mut edges = mask ^ ((mask << 1) | u64::from(inside));
        while edges != 0 {
            let at = 64 * c + edges.trailing_zeros() as usize;
            if inside {
                hashes.push(token_hash::<true>(&text[start..at]));
            } else {
                start = at;
            }
            inside = !inside;
            edges &= edges - 1;
        }
    }
    if inside {
        hashes.push(token_hash::<true>(&text[start..]));
    }
    hashes
}

/// `minhash.shingle_hashes` on a text's bytes: empty when it has fewer than `n` tokens.
fn shingles_of(text: &[u8], n: usize) -> Vec<u64> {
    let n = n.max(1);
    let tokens = token_hashes(text);
    if tokens.len() < n {
        return Vec::new();
    }
    tokens
        .windows(n)
        .map(|window| {
            window[1..].iter().fold(window[0], |combined, &next| {
                combined.wrapping_mul(SHINGLE_MIX) ^ next
            })
        })
        .collect()
}

fn splitmix64(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// `rand_xoshiro::Xoshiro256PlusPlus` as `seed_from_u64` seeds it (four SplitMix64 outputs).
struct Xoshiro256PlusPlus {
    s: [u64; 4],
}

impl Xoshiro256PlusPlus {
    fn seed_from_u64(mut state: u64) -> Self {
        let mut s = [0u64; 4];
        for word in &mut s {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *word = z ^ (z >> 31);
        }
        Self { s }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

/// rensa's `(a, b)` pairs for `num_perm` permutations.
fn permutations(num_perm: usize, seed: u64) -> Vec<(u64, u64)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..num_perm)
        .map(|_| {
            let a = rng.next_u64() | 1;
            let b = rng.next_u64();
            (a, b)
        })
        .collect()
}

/// rensa's `bucket_index`: Lemire's multiply-shift of the low 32 bits, rejecting (and re-mixing)
/// the values that would bias it; `threshold` is `count.wrapping_neg() % count` (0 for a power of two).
fn bucket_index(mut mixed: u64, count: u32, threshold: u32) -> usize {
    loop {
        let product = u64::from(mixed as u32) * u64::from(count);
        if product as u32 >= threshold {
            return (product >> 32) as usize;
        }
        mixed = splitmix64(mixed);
    }
}

/// rensa 0.5.0's R-MinHash digest of `hashes` (`digest_matrix_from_flat_token_hashes`, one row).
fn signature_of(hashes: &[u64], num_perm: usize, seed: u64) -> PyResult<Vec<u32>> {
    if num_perm == 0 {
        return Err(PyValueError::new_err("num_perm must be greater than 0"));
    }
    let count = u32::try_from(num_perm)
        .map_err(|_| PyValueError::new_err("num_perm must fit in 32 bits"))?;
    let threshold = count.wrapping_neg() % count;
    let mut values = vec![u32::MAX; num_perm];
    let (a0, b0) = permutations(1, seed)[0];
    for round in 0..BUCKET_ROUNDS {
        let stage_seed = b0 ^ BUCKET_DOMAIN ^ u64::from(round).wrapping_mul(ROUND_DOMAIN);
        let prefix = round << FRACTION_BITS;
        for &hash in hashes {
            let mixed = splitmix64(hash ^ stage_seed);
            let rank = prefix | (mixed >> (32 + RANK_BITS)) as u32;
            let value = &mut values[bucket_index(mixed, count, threshold)];
            *value = (*value).min(rank);
        }
        // Later rounds rank above this one: once every coordinate has a value they change nothing.
        let next_prefix = (round + 1) << FRACTION_BITS;
        if values.iter().all(|&value| value < next_prefix) {
            return Ok(values);
        }
    }
    let fallback_seed = a0 ^ FALLBACK_DOMAIN;
    let mixed: Vec<u64> = hashes
        .iter()
        .map(|&hash| splitmix64(hash ^ fallback_seed))
        .collect();
    for (value, (a, b)) in values.iter_mut().zip(permutations(num_perm, seed)) {
        if *value >= FALLBACK {
            for &hash in &mixed {
                let rank =
                    FALLBACK | (a.wrapping_mul(hash).wrapping_add(b) >> (32 + RANK_BITS)) as u32;
                *value = (*value).min(rank);
            }
        }
    }
    Ok(values)
}

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

/// The `n`-token shingle hashes of `text` as native-endian uint64s in a bytearray (empty when the
/// text has fewer than `n` tokens); `minhash.shingle_hashes` views it with `np.frombuffer`.
#[pyfunction]
fn minhash_shingle_hashes<'py>(
    text: &Bound<'py, PyString>,
    n: usize,
) -> PyResult<Bound<'py, PyByteArray>> {
    let bytes = text_bytes(text)?;
    let hashes = shingles_of(&bytes, n);
    PyByteArray::new_with(text.py(), 8 * hashes.len(), |buffer| {
        for (slot, hash) in buffer.chunks_exact_mut(8).zip(&hashes) {
            slot.copy_from_slice(&hash.to_ne_bytes());
        }
        Ok(())
    })
}

/// `minhash.signature`: the `num_perm` MinHash values of `text`'s `n`-token shingles, or `[]` when
/// it has fewer than `n` tokens.
#[pyfunction]
fn minhash_signature(
    text: &Bound<'_, PyString>,
    n: usize,
    num_perm: usize,
    seed: u64,
) -> PyResult<Vec<u32>> {
    let bytes = text_bytes(text)?;
    let hashes = shingles_of(&bytes, n);
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    signature_of(&hashes, num_perm, seed)
}

/// `minhash.band_keys` of a signature of at least `bands * rows` values: per band `b`, the
/// big-endian xxh3-64 (seed `b`) of the band's `rows` values as native-endian uint32s
/// (`array("I", sig)`), as `xxhash.xxh3_64_digest` gives it.
#[pyfunction]
fn minhash_band_keys<'py>(
    py: Python<'py>,
    sig: Vec<u32>,
    bands: usize,
    rows: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    if sig.len() < bands.saturating_mul(rows) {
        return Err(PyValueError::new_err(format!(
            "signature has {} values, params need {}",
            sig.len(),
            bands.saturating_mul(rows)
        )));
    }
    let packed: Vec<u8> = sig.iter().flat_map(|value| value.to_ne_bytes()).collect();
    let width = 4 * rows;
    Ok((0..bands)
        .map(|band| {
            let key = xxh3_64_with_seed(&packed[band * width..(band + 1) * width], band as u64);
            PyBytes::new(py, &key.to_be_bytes())
        })
        .collect())
}

/// rensa's token hash of each of `tokens` (to test it against `RMinHash.hash_token_sets`).
#[pyfunction]
fn minhash_token_hashes(tokens: Vec<Bound<'_, PyBytes>>) -> Vec<u64> {
    tokens
        .iter()
        .map(|token| token_hash::<false>(token.as_bytes()))
        .collect()
}

/// rensa's digest of arbitrary uint64 `hashes` (to test it against
/// `RMinHash.digest_matrix_from_flat_token_hashes`; all `u32::MAX` when `hashes` is empty).
#[pyfunction]
fn minhash_digest(hashes: Vec<u64>, num_perm: usize, seed: u64) -> PyResult<Vec<u32>> {
    signature_of(&hashes, num_perm, seed)
}

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(minhash_shingle_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_signature, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_band_keys, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_token_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_digest, m)?)?;
    Ok(())
}
