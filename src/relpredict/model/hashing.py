"""Token hashing for bag columns: the same bucket ids in every process and on every machine.

Tokens are hashed with BLAKE2b (each distinct token once) and bigrams by mixing their words'
hashes with MurmurHash3's finaliser (Python's ``hash()`` is salted per process). Pure functions
of Arrow / NumPy arrays.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WORD_SPLIT = r"[^\p{L}\p{N}_]+"  # RE2: anything but letters, digits and '_' separates words
_MULTI_SPLIT = r"[|;]"  # the separators that make stype inference call a string multicategorical
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_FMIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def stable_hash(token: str) -> int:
    """A 64-bit hash of ``token`` that is the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def hash_strings(tokens: pa.Array) -> np.ndarray:
    """:func:`stable_hash` of each string, uint64 ``[T]``; each distinct string is hashed once."""
    if len(tokens) == 0:
        return np.zeros(0, dtype=np.uint64)
    encoded = pc.dictionary_encode(tokens)
    table = np.fromiter((stable_hash(t) for t in encoded.dictionary.to_pylist()),
                        dtype=np.uint64, count=len(encoded.dictionary))
    out: np.ndarray = table[encoded.indices.to_numpy(zero_copy_only=False)]
    return out


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (uint64 ``[T]``, wrapping arithmetic): spreads every bit."""
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX[0]
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX[1]
    out: np.ndarray = h ^ (h >> np.uint64(33))
    return out


def pair_hash(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """An order-sensitive hash of two hashes (uint64 ``[T]`` each): a bigram from its words."""
    return _fmix64(first * _GOLDEN + second)


def multicategorical_tokens(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Trimmed non-empty elements of lists (or ``|``/``;``-separated strings) and their row.

    Returns the tokens (strings ``[T]``) and the row of each (int64 ``[T]``, non-decreasing).
    """
    lists = values if pa.types.is_list(values.type) or pa.types.is_large_list(values.type) \
        else pc.split_pattern_regex(values, _MULTI_SPLIT)
    tokens = pc.utf8_trim_whitespace(pc.cast(pc.list_flatten(lists), pa.string()))
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = pc.fill_null(pc.greater(pc.utf8_length(tokens), 0), False)
    return tokens.filter(keep), rows[keep.to_numpy(zero_copy_only=False)]


def text_words(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Lowercased words of each string (runs of letters, digits and ``_``) and their row.

    Returns the words (strings ``[W]``) and the row of each (int64 ``[W]``, non-decreasing).
    """
    lists = pc.split_pattern_regex(pc.utf8_lower(values), _WORD_SPLIT)
    words = pc.list_flatten(lists)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = pc.greater(pc.utf8_length(words), 0).to_numpy(zero_copy_only=False)
    return words.filter(pa.array(keep)), rows[keep]


def text_ids(values: pa.Array, num_buckets: int, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket ids of each row's word unigrams and bigrams, interleaved, at most ``max_tokens``.

    Word ``p`` of a row is token ``2p`` and the bigram of words ``p, p+1`` token ``2p + 1``, so
    a row of W words has tokens ``0 .. 2W-2`` and the cap keeps a prefix of the text. A unigram's
    id comes from :func:`stable_hash` of the word, a bigram's from :func:`pair_hash` of its two
    words' hashes (no bigram strings are built). Returns ids (int64 ``[T]``) and the row of each
    (int64 ``[T]``), grouped by row in token order.
    """
    words, rows = text_words(values)
    pos = _position_in_run(rows)
    needed = pos <= max_tokens // 2  # later words give no kept unigram or bigram
    words, rows, pos = words.filter(pa.array(needed)), rows[needed], pos[needed]
    hashes = hash_strings(words)
    token = np.concatenate([2 * pos, 2 * pos[:-1] + 1])
    token_rows = np.concatenate([rows, rows[:-1]])
    same_row = np.concatenate([np.ones(len(rows), bool), rows[:-1] == rows[1:]])
    buckets = np.concatenate([hashes, pair_hash(hashes[:-1], hashes[1:])]) % np.uint64(num_buckets)
    kept = same_row & (token < max_tokens)
    token, token_rows, buckets = token[kept], token_rows[kept], buckets[kept]
    counts = np.bincount(token_rows, minlength=len(values))
    dest = (np.cumsum(counts) - counts)[token_rows] + token  # a row's tokens are 0..K-1
    ids = np.empty(len(token), dtype=np.int64)
    ids[dest] = buckets.astype(np.int64)
    rows_out = np.empty(len(token), dtype=np.int64)
    rows_out[dest] = token_rows
    return ids, rows_out


def _position_in_run(rows: np.ndarray) -> np.ndarray:
    """For non-decreasing ``rows`` (int64 ``[M]``), each entry's index within its row's run."""
    idx = np.arange(len(rows), dtype=np.int64)
    if len(rows) == 0:
        return idx
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = rows[1:] != rows[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))
