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
3. `affected_stories(...)`: for an incremental build, the stories that new,
   changed or removed articles touch: the stored articles that share a
   bucket with a changed one and pass the same check, the stored signatures
   read a chunk at a time; regrouping the members of those stories with the
   changed articles gives what a full `group` would.

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
from collections.abc import Hashable, Iterable, Iterator, Mapping
from functools import cache
from typing import TypeVar

import numpy as np

from bannedbook.text.chinese import CharMap, normalise

SHINGLE = 5
PERMUTATIONS = 128
BANDS = 42
SHARE = 0.5
MIN_SHINGLES = 50
_CHUNK = 20_000  # stored signatures banded at once by affected_stories
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


def group(items: Iterable[tuple[K, bytes]], *, share: float = SHARE, bands: int = BANDS,
          size: int | None = None) -> dict[K, K]:
    """Each article's story: {key: key of the story's first article}.

    items: (key, signature) in the order that decides which article names
    its story (the build passes them in date order). Keys must be distinct.
    size: how many items there are, when known (the values are then copied
    into one array of that size, never grown).
    """
    keys: list[K] = []
    counts: list[int] = []
    matrix = None  # the values, copied out of the signatures (which need not stay in memory)
    signatures = _Signatures()
    for key, value in items:
        count, values = signatures.read(key, value)
        n = len(keys)
        if matrix is None:
            matrix = np.empty((size or _BLOCK, len(values)), dtype=values.dtype)
        elif n == len(matrix):
            grown = np.empty((2 * n, matrix.shape[1]), dtype=matrix.dtype)
            grown[:n] = matrix
            matrix = grown
        matrix[n] = values
        keys.append(key)
        counts.append(count)
    if len(set(keys)) != len(keys):
        raise ValueError("group() needs distinct keys")
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if signatures.params:
        matrix = matrix[: len(keys)]  # one array: a few hundred bytes an article
        comparable = np.flatnonzero(np.array(counts) >= MIN_SHINGLES)
        for bucket in _buckets(matrix, comparable, bands):
            for n, i in enumerate(bucket):
                for j in bucket[n + 1:]:
                    a, b = root(i), root(j)
                    if a != b and _shared(counts[i], matrix[i], counts[j], matrix[j]) >= share:
                        # The earlier article is the root, so it names the story.
                        parent[max(a, b)] = min(a, b)
    return {key: keys[root(i)] for i, key in enumerate(keys)}


def affected_stories(
    stories: Mapping[K, K],
    stored: Iterable[tuple[K, bytes]],
    changed: Iterable[tuple[K, bytes]],
    removed: Iterable[K] = (),
    *,
    share: float = SHARE,
    bands: int = BANDS,
) -> set[K]:
    """The existing stories an incremental build must regroup.

    stories: every stored article's story, as `group` gave it.
    stored: (key, signature) of every stored article, as stored before this
    build (the signatures of removed and changed articles are skipped).
    changed: (key, signature) of new articles and of changed ones (new text
    under a stored key). removed: keys of articles that are gone.

    A story is affected when it loses an article (removed or changed: it may
    fall apart) or when one of its articles is a near-duplicate of a changed
    one (stories may merge). The build then calls `group` on the articles of
    the affected stories that remain plus the changed ones, in date order,
    and keeps every other article's story: the result is what `group` on the
    whole archive gives, because no article outside those stories is a
    near-duplicate of any article inside them.
    """
    changed = list(changed)
    signatures = _Signatures()
    fresh = [(key, *signatures.read(key, value)) for key, value in changed]
    gone = set(removed) | {key for key, _ in changed if key in stories}
    affected = {stories[key] for key in gone if key in stories}
    new = [(count, values) for _, count, values in fresh if count >= MIN_SHINGLES]
    if not new:
        return affected
    # The stored articles a chunk at a time, each chunk banded together with
    # the few changed ones: memory stays small however large the archive.
    chunk: list[tuple[K, int, np.ndarray]] = []

    def check() -> None:
        matrix = np.vstack([values for _, _, values in chunk] + [values for _, values in new])
        counts = [count for _, count, _ in chunk] + [count for count, _ in new]
        for bucket in _buckets(matrix, np.arange(len(counts)), bands, first_new=len(chunk)):
            fresh_rows = [j for j in bucket if j >= len(chunk)]
            for i in bucket:
                if i >= len(chunk) or stories[chunk[i][0]] in affected:
                    continue
                if any(_shared(counts[i], matrix[i], counts[j], matrix[j]) >= share for j in fresh_rows):
                    affected.add(stories[chunk[i][0]])
        chunk.clear()

    for key, value in stored:
        if key in gone or stories.get(key) in affected:
            continue
        count, values = signatures.read(key, value)
        if count >= MIN_SHINGLES:
            chunk.append((key, count, values))
        if len(chunk) == _CHUNK:
            check()
    if chunk:
        check()
    return affected
