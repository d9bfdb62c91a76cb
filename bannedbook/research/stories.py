"""Near-duplicate articles grouped into stories.

bannedbook.org republishes reports from the Epoch Times, VOA, RFA and
others, and the same report reaches it more than once: under another title,
in Traditional characters, edited later, re-posted under another URL, with
another outlet's header and footer, a paragraph added or cut. A researcher
counting coverage counts stories, not copies. Two articles are one story
when most of their text is shared; stories are the connected components of
that relation, each named after its first article.

How it works, all from the body text (titles, authors, sources and URLs are
what reposts change, so they are left out):

1. `signature(body)`: the text is normalised as search normalises it
   (`bannedbook.text.chinese.normalise`: Traditional ≡ Simplified, case and width
   folded), punctuation and spaces dropped, cut into overlapping runs of
   SHINGLE characters, and summarised by MinHash: each distinct run hashed
   to 64 bits, and for each of PERMUTATIONS permutations of 32-bit values
   (x -> a x + b mod 2**32), the least value any run takes. All of it is
   numpy over the text's code points, shingles by permutations at once, with
   no Python step per character or run. The signature is bytes (a BLOB the
   build can keep, so an incremental build computes it only for new pages),
   made in the build's worker processes.
2. `group(items)`: locality-sensitive hashing proposes as candidates only
   pairs that agree on a whole band of the signature (BANDS bands of
   consecutive values), so the work grows with the number of articles and
   their near-duplicates, never with all pairs. Each candidate pair is
   checked: one story when the text the two share (the MinHash estimate of
   their common shingles) is at least SHARE of the longer one's. Union-find
   joins the checked pairs into stories. The candidates are exactly those
   datasketch's MinHashLSH proposes with these bands (the same bands, exact
   equality), found band by band by sorting the signatures as one numpy
   array. The build groups the whole archive in one process, and
   MinHashLSH's storage (a dict entry and a set per band and article) took
   several times the memory and the time for the same stories
   (benchmarks/stories_bench.py measures the grouping, alone and inside a
   build).
3. `band_keys`, `band_rows` and `neighbours`: for an incremental build, the
   band index (bannedbook/db/storystore.py stores it): each band of a
   signature under a key (its number and a hash of its values), so a new
   article's candidates are found by lookup; `neighbours` gives the pairs
   `group` would join that hold a new article, by the same rule (the
   values of the band compared, never the key alone).

Why these parameters. tests/helpers/story_pairs.py builds labelled pairs from
real text (People's Daily 1998 and the seed page): reposts edited as above,
and different reports that name the same people and places or quote a
passage of each other. benchmarks/stories_bench.py measures precision and
recall on them for this setting and for each parameter moved alone, the
exact and estimated shares on either side of SHARE, and time and memory at
scale; tests/test_stories.py holds this setting to its targets. What the
measurements showed:

- SHINGLE, 5 characters (two or three Chinese words): from 4 to 8 the gap
  between the least-shared repost and the most-shared different report
  hardly moves. What moves is the rest: each character more loses more of a
  repost whose words were edited or put in Taiwan's vocabulary, each
  character less lets different reports share more of their stock phrases
  (会议指出, 中国共产党). 5 and 6 do about equally; 5 keeps more of edited
  copies.
- SHARE, half of the longer text: reposts keep well over half even when cut
  to 70 % or edited several ways at once; different reports share far less
  even when one quotes the other. Half lies between the two with room on
  either side for the estimate's error; moving it far towards either side
  loses recall (truncated copies first) or joins reports that quote each
  other.
- PERMUTATIONS, 128 MinHash values: the estimate's error stays well inside
  that room; 256 would halve its variance for twice the bytes and time.
- BANDS, 42 bands of 3 values: a pair is a candidate when its signatures
  agree on a whole band, so fewer, longer bands miss truncated and combined
  reposts (16 bands did, visibly); more bands check more pairs and hold
  more memory. With 42, four in five pairs at the lowest Jaccard similarity
  a pair sharing half of the longer article can have (a third) are
  candidates, and practically every pair from a half up, where reposts lie;
  unrelated articles, which share a sentence here and there, rarely are.
- The hashes: a run's code points weighted and summed, then mixed, and
  permutations a x + b mod 2**32. Hashing and permuting cost a Python step
  per run in datasketch's MinHash (which signatures were made with before,
  at several times the time per article); these are vectorised, and their
  estimates differ from the exact similarity as independent permutations'
  do (benchmarks/stories_bench.py and tests/test_stories.py compare them).
- MIN_SHINGLES: a body too short to compare (a caption, a video's one line)
  is its own story; otherwise every empty page would be one story.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Hashable, Iterable, Iterator
from functools import cache
from typing import TypeVar

import numpy as np

from bannedbook.text.chinese import CharMap, normalise

SHINGLE = 5
PERMUTATIONS = 128
BANDS = 42
SHARE = 0.5
MIN_SHINGLES = 50
_BLOCK = 4096  # rows group's array starts with when it is not told how many

# Fixed: a signature made with another seed or scheme could not be compared.
_SEED = 1
_SPAN = 4096  # shingles permuted at once: a 2 MB array at 128 permutations
# Header: a tag, the format version, the shingle length, the number of
# MinHash values and the number of distinct shingles, padded to keep the
# values aligned; then the values.
_HEADER = struct.Struct("<2sBBHI2x")
_TAG = b"MH"
_VERSION = 2  # 1: datasketch MinHash of crc32 (values not comparable with 2)
_NOT_COMPARED = re.compile(r"[\W_]+")

K = TypeVar("K", bound=Hashable)


def _letter(char: str) -> str:
    """What is compared of a character: its normalised form without
    punctuation and spaces (normalise works a character at a time)."""
    return _NOT_COMPARED.sub("", normalise(char))


_letters = CharMap(_letter)
# The same as code points, for the BMP: each character's one letter, 0 for
# none, _SEVERAL when it has more than one (ligatures, ㈱) or _UNSEEN before
# its first use. A text with characters beyond the BMP or of several letters
# takes the str.translate way (_letters).
_UNSEEN, _SEVERAL = 0xFFFFFFFF, 0xFFFFFFFE
_BMP_LETTERS = np.full(0x10000, _UNSEEN, dtype=np.uint32)


def _letter_codes(text: str) -> np.ndarray:
    """_letters(text) as UTF-32 code points, without a Python step per character."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    if len(codes) and codes.max() > 0xFFFF:
        return np.frombuffer(_letters(text).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    mapped = _BMP_LETTERS[codes]
    if np.any(mapped == _UNSEEN):
        for code in np.unique(codes[mapped == _UNSEEN]).tolist():
            letter = _letter(chr(code))
            _BMP_LETTERS[code] = ord(letter) if len(letter) == 1 else _SEVERAL if letter else 0
        mapped = _BMP_LETTERS[codes]
    if np.any(mapped == _SEVERAL):
        return np.frombuffer(_letters(text).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return mapped[mapped != 0]


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """The distinct runs of `size` letters and digits of normalised text."""
    letters = _letters(text)
    return {letters[i : i + size] for i in range(len(letters) - size + 1)}


_MASK64 = (1 << 64) - 1


def _splitmix64(seed: int, count: int) -> list[int]:
    """count 64-bit numbers from seed by SplitMix64: written out here, not
    taken from a library's generator, whose stream could change with its
    version and make stored signatures incomparable."""
    numbers = []
    for _ in range(count):
        seed = (seed + 0x9E3779B97F4A7C15) & _MASK64
        z = ((seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        numbers.append(z ^ (z >> 31))
    return numbers


@cache
def _position_factors(size: int) -> np.ndarray:
    """An odd 64-bit factor for each place of a shingle."""
    return np.array([n | 1 for n in _splitmix64(_SEED << 32 | size, size)], dtype=np.uint64)


@cache
def _permutation(count: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the count permutations x -> a x + b mod 2**32 (a odd), as columns."""
    numbers = _splitmix64(_SEED, 2 * count)
    a = np.array([n & 0xFFFFFFFF | 1 for n in numbers[:count]], dtype=np.uint32)
    b = np.array([n & 0xFFFFFFFF for n in numbers[count:]], dtype=np.uint32)
    return a[:, None], b[:, None]


def _shingle_hashes(letters: np.ndarray, size: int) -> np.ndarray:
    """The distinct shingles of letters (code points) as 64-bit hashes, sorted: each
    shingle's code points weighted by its places' factors and summed, then
    mixed (MurmurHash3's finaliser) so that every bit of the sum reaches the
    low 32 the permutations read. Two different shingles of a text share a
    hash with a chance of about 2**-64."""
    codes = letters.astype(np.uint64)
    count = len(codes) - size + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    factors = _position_factors(size)
    hashes = codes[:count] * factors[0]
    for place in range(1, size):
        hashes += codes[place : place + count] * factors[place]
    hashes ^= hashes >> 33
    hashes *= np.uint64(0xFF51AFD7ED558CCD)
    hashes ^= hashes >> 33
    hashes *= np.uint64(0xC4CEB9FE1A85EC53)
    hashes ^= hashes >> 33
    hashes.sort()
    return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]


def _minimums(hashes: np.ndarray, permutations: int) -> np.ndarray:
    """The MinHash values: for each permutation, the least value it gives a
    shingle, all shingles and permutations at once (a permutations x
    shingles array, _SPAN shingles at a time so memory stays bounded)."""
    a, b = _permutation(permutations)
    values = np.full(permutations, 0xFFFFFFFF, dtype=np.uint32)
    inputs = hashes.astype(np.uint32)
    for start in range(0, len(inputs), _SPAN):
        permuted = a * inputs[start : start + _SPAN]
        permuted += b
        np.minimum(values, permuted.min(axis=1), out=values)
    return values


def signature(text: str, *, shingle: int = SHINGLE, permutations: int = PERMUTATIONS) -> bytes:
    """The article body's MinHash signature, as bytes to store."""
    hashes = _shingle_hashes(_letter_codes(text), shingle)
    header = _HEADER.pack(_TAG, _VERSION, shingle, permutations, len(hashes))
    return header + _minimums(hashes, permutations).astype("<u4").tobytes()


def is_current(value: bytes) -> bool:
    """True when a stored signature was made by this version with the default
    parameters (else the build must compute it again)."""
    try:
        tag, version, shingle, permutations, _ = _HEADER.unpack_from(value)
    except (struct.error, TypeError):
        return False
    return (tag, version, shingle, permutations) == (_TAG, _VERSION, SHINGLE, PERMUTATIONS) and \
        len(value) == _HEADER.size + 4 * PERMUTATIONS


class _Signatures:
    """Signatures read back, checked to be comparable with each other."""

    def __init__(self) -> None:
        self.params: tuple[int, int] | None = None

    def read(self, key: Hashable, value: bytes) -> tuple[int, np.ndarray]:
        """(number of distinct shingles, MinHash values) of a stored signature."""
        try:
            tag, version, shingle, permutations, count = _HEADER.unpack_from(value)
        except (struct.error, TypeError) as error:
            raise ValueError(f"{key!r}: not a story signature ({error})") from None
        if tag != _TAG or version != _VERSION or len(value) != _HEADER.size + 4 * permutations:
            raise ValueError(f"{key!r}: not a story signature of this version; compute it again with signature()")
        if self.params is None:
            self.params = (shingle, permutations)
        elif self.params != (shingle, permutations):
            raise ValueError(f"{key!r}: signature made with (shingle, permutations) = {(shingle, permutations)}, "
                             f"others with {self.params}; compute them all with the same parameters")
        return count, np.frombuffer(value, dtype="<u4", offset=_HEADER.size)


def _shared(count_a: int, a: np.ndarray, count_b: int, b: np.ndarray) -> float:
    """The share of the longer article's shingles that the other has too:
    |A ∩ B| = J (|A| + |B|) / (1 + J), with J estimated by MinHash (the
    share of equal values, as datasketch's MinHash.jaccard counts it)."""
    if not count_a or not count_b:
        return 0.0
    jaccard = np.count_nonzero(a == b) / len(a)
    return jaccard * (count_a + count_b) / (1 + jaccard) / max(count_a, count_b)


def _shares(count_a: np.ndarray, a: np.ndarray, count_b: np.ndarray, b: np.ndarray) -> np.ndarray:
    """_shared of many pairs at once (rows of a with rows of b), the same
    arithmetic in the same order, so the same answers to the last bit."""
    jaccard = np.count_nonzero(a == b, axis=1) / a.shape[1]
    return jaccard * (count_a + count_b) / (1 + jaccard) / np.maximum(count_a, count_b)


_CHUNK = 20_000  # pairs compared at once: 20,000 x 128 values x 4 bytes, 10 MB a side


def _buckets(values: np.ndarray, rows: np.ndarray, bands: int, first_new: int | None = None) -> Iterator[list[int]]:
    """Rows (two or more, ascending) whose values agree on a whole band, band
    by band: what MinHashLSH with (bands, len // bands) puts in one bucket.
    With first_new, only buckets holding a row from first_new on."""
    width = values.shape[1] // bands
    for band in range(bands):
        part = values[rows, band * width:(band + 1) * width]
        order = np.lexsort(part.T[::-1])
        ordered = part[order]
        starts = np.flatnonzero(np.concatenate(([True], np.any(ordered[1:] != ordered[:-1], axis=1))))
        ends = np.append(starts[1:], len(order))
        wanted = ends - starts >= 2
        if first_new is not None:
            wanted &= np.add.reduceat((rows[order] >= first_new).astype(np.int32), starts) > 0
        for start in np.flatnonzero(wanted).tolist():
            yield sorted(rows[order[starts[start]:ends[start]]].tolist())


def shared(a: bytes, b: bytes) -> float:
    """How much of the longer of two articles' text the other shares (0 to 1),
    estimated from their signatures; one story from SHARE up."""
    signatures = _Signatures()
    return _shared(*signatures.read("a", a), *signatures.read("b", b))


class Loaded:
    """Signatures read into one array: keys, counts of distinct shingles
    and MinHash values (a few hundred bytes an article), in the order given."""

    def __init__(self, items: Iterable[tuple[K, bytes]], size: int | None = None):
        self.keys: list = []
        counts: list[int] = []
        matrix = None  # the values, copied out of the signatures (which need not stay in memory)
        signatures = _Signatures()
        for key, value in items:
            count, values = signatures.read(key, value)
            n = len(self.keys)
            if matrix is None:
                matrix = np.empty((size or _BLOCK, len(values)), dtype=values.dtype)
            elif n == len(matrix):
                grown = np.empty((2 * n, matrix.shape[1]), dtype=matrix.dtype)
                grown[:n] = matrix
                matrix = grown
            matrix[n] = values
            self.keys.append(key)
            counts.append(count)
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("group() needs distinct keys")
        self.counts = np.array(counts, dtype=np.int64)
        self.matrix = matrix[: len(self.keys)] if matrix is not None else np.empty((0, PERMUTATIONS), "<u4")
        self.comparable = np.flatnonzero(self.counts >= MIN_SHINGLES)


def group(items: Iterable[tuple[K, bytes]], *, share: float = SHARE, bands: int = BANDS,
          size: int | None = None) -> dict[K, K]:
    """Each article's story: {key: key of the story's first article}.

    items: (key, signature) in the order that decides which article names
    its story (the build passes them in date order). Keys must be distinct.
    size: how many items there are, when known (the values are then copied
    into one array of that size, never grown).
    """
    return components(Loaded(items, size), share=share, bands=bands)


def components(loaded: Loaded, *, share: float = SHARE, bands: int = BANDS) -> dict:
    """group() of signatures already loaded."""
    keys, counts, matrix = loaded.keys, loaded.counts, loaded.matrix
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for bucket in _buckets(matrix, loaded.comparable, bands):
        for n, i in enumerate(bucket):
            for j in bucket[n + 1:]:
                a, b = root(i), root(j)
                if a != b and _shared(counts[i], matrix[i], counts[j], matrix[j]) >= share:
                    # The earlier article is the root, so it names the story.
                    parent[max(a, b)] = min(a, b)
    return {key: keys[root(i)] for i, key in enumerate(keys)}


# ------------------------------------------------------------------ the band index

# Odd 64-bit multipliers that mix a band's values into its key (any fixed
# ones do: keys only find candidates, the values themselves decide).
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB, 0xBF58476D1CE4E5B9], dtype=np.uint64)


def _band_keys(values: np.ndarray, bands: int, first: int = 0, last: int | None = None) -> np.ndarray:
    """The keys of bands first..last-1 (all by default) of each row of values
    (n, permutations), as (n, bands) int64: the band's number in the high
    bits, a 32-bit hash of its values in the low ones. Equal bands have
    equal keys; unequal bands rarely do, and `neighbours` compares the
    values of every pair a key proposes."""
    last = bands if last is None else last
    width = values.shape[1] // bands
    parts = values[:, first * width:last * width].reshape(len(values), last - first, width).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (parts * _MIX[:width]).sum(axis=2, dtype=np.uint64)
    numbers = np.arange(first, last, dtype=np.uint64) << np.uint64(32)
    return ((mixed >> np.uint64(32)) | numbers).astype(np.int64)


def band_keys(signature: bytes, *, bands: int = BANDS) -> list[int]:
    """The band index's keys of one article (none when its text is too short
    to compare: such an article is never a candidate)."""
    count, values = _Signatures().read("signature", signature)
    if count < MIN_SHINGLES:
        return []
    return _band_keys(values[None, :], bands)[0].tolist()


def band_rows(loaded: Loaded, *, bands: int = BANDS) -> Iterator[tuple[int, Hashable]]:
    """(band key, key) of every comparable article, in band key order (the
    order the index is written in fastest), one band at a time in memory."""
    rows = loaded.comparable
    for band in range(bands):
        keys = _band_keys(loaded.matrix[rows], bands, band, band + 1)[:, 0]
        order = np.argsort(keys, kind="stable")
        for i in order.tolist():
            yield int(keys[i]), loaded.keys[rows[i]]


def neighbours(fresh: Iterable[tuple[K, bytes]], lookup, signed, *, share: float = SHARE,
               bands: int = BANDS) -> set[tuple[K, K]]:
    """The pairs `group` over the whole archive would join that hold a fresh
    article: (fresh key, other key), the other fresh or stored.

    fresh: (key, signature) of the new articles (new text under an old key
    counts as new). lookup(band keys) -> (band key, key) of stored articles
    whose band has that key (the stored band index, without the fresh
    articles and without those gone); signed(keys) -> (key, signature) of
    those stored articles. As in `group`, a pair is joined when the two
    agree on a whole band and share at least `share` of the longer text.
    """
    loaded = Loaded(fresh)
    rows = loaded.comparable
    if not len(rows):
        return set()
    matrix, counts, keys = loaded.matrix, loaded.counts, loaded.keys
    pairs = set()
    for bucket in _buckets(matrix, rows, bands):  # fresh with fresh
        for n, i in enumerate(bucket):
            for j in bucket[n + 1:]:
                if _shared(counts[i], matrix[i], counts[j], matrix[j]) >= share:
                    pairs.add((keys[i], keys[j]))
    # Each fresh row's band keys, sorted: the rows asking for a key are a run.
    asked = _band_keys(matrix[rows], bands)
    asking_rows = np.repeat(rows, asked.shape[1])
    asked = asked.ravel()
    order = np.argsort(asked, kind="stable")
    asked, asking_rows = asked[order], asking_rows[order]
    found = list(lookup(np.unique(asked).tolist()))
    if not found:
        return pairs
    stored = Loaded(signed(sorted({key for _, key in found})))
    where = {key: n for n, key in enumerate(stored.keys)}
    # Every (fresh row, stored row, band) the index offers, checked together:
    # a Python step per pair is seconds when a large story offers 10^5 pairs.
    found_keys = np.array([band_key for band_key, _ in found], dtype=asked.dtype)
    found_rows = np.array([where[other] for _, other in found], dtype=np.int64)
    first, last = np.searchsorted(asked, found_keys, "left"), np.searchsorted(asked, found_keys, "right")
    runs = last - first
    stored_rows = np.repeat(found_rows, runs)
    band_of = (np.repeat(found_keys, runs) >> 32).astype(np.int64)
    # the run of each found key, laid end to end
    fresh_rows = asking_rows[np.repeat(first - np.cumsum(runs) + runs, runs) + np.arange(runs.sum())]
    keep = stored.counts[stored_rows] >= MIN_SHINGLES
    fresh_rows, stored_rows, band_of = fresh_rows[keep], stored_rows[keep], band_of[keep]
    width = matrix.shape[1] // bands
    columns = band_of[:, None] * width + np.arange(width)  # the band's values (its key may collide)
    agree = (matrix[fresh_rows[:, None], columns] == stored.matrix[stored_rows[:, None], columns]).all(axis=1)
    pair_numbers = np.unique(fresh_rows[agree] * len(stored.keys) + stored_rows[agree])
    for start in range(0, len(pair_numbers), _CHUNK):
        i, j = np.divmod(pair_numbers[start:start + _CHUNK], len(stored.keys))
        close = _shares(counts[i], matrix[i], stored.counts[j], stored.matrix[j]) >= share
        pairs.update((keys[a], stored.keys[b]) for a, b in zip(i[close].tolist(), j[close].tolist(), strict=True))
    return pairs
