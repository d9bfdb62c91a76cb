"""Near-duplicate articles grouped into stories (bannedbook/research/stories.py)."""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from helpers.story_pairs import load_pairs

from bannedbook.research import stories

PAIRS = Path(__file__).resolve().parent / "fixtures" / "story_pairs.jsonl"


@pytest.fixture(scope="module")
def labelled() -> tuple[dict[str, str], list[dict]]:
    """Bodies and labelled pairs made by tests/helpers/story_pairs.py."""
    return load_pairs(PAIRS)


@pytest.fixture(scope="module")
def signed(labelled) -> dict[str, bytes]:
    texts, _ = labelled
    return {key: stories.signature(text) for key, text in texts.items()}


def test_labelled_pairs_meet_the_precision_and_recall_targets(labelled, signed):
    # Every body grouped at once, as the build groups the archive: a pair is
    # "found" when both land in one story.
    _, pairs = labelled
    assigned = stories.group(signed.items())
    together = [(assigned[p["a"]] == assigned[p["b"]], p["same"]) for p in pairs]
    true_positives = sum(1 for found, same in together if found and same)
    found = sum(1 for found, _ in together if found)
    same = sum(1 for _, same in together if same)
    assert same >= 250 and len(pairs) - same >= 250, "the fixture holds a few hundred pairs of each kind"
    precision, recall = true_positives / found, true_positives / same
    missed = sorted({p["edit"] for p in pairs if p["same"] and assigned[p["a"]] != assigned[p["b"]]})
    joined = sorted({p["edit"] for p in pairs if not p["same"] and assigned[p["a"]] == assigned[p["b"]]})
    assert precision >= 0.98, f"precision {precision:.3f}; different reports joined: {joined}"
    assert recall >= 0.95, f"recall {recall:.3f}; reposts missed: {missed}"


def test_the_signature_counts_and_compares_the_text_s_shingles(labelled, signed):
    # The signature hashes runs of code points in numpy; its count of
    # distinct runs must be that of the runs as strings.
    texts, _ = labelled
    for key, text in texts.items():
        assert stories._HEADER.unpack_from(signed[key])[4] == len(stories.shingles(text)), key
    # Characters of several letters (a ligature, ㈱), beyond the BMP, a lone surrogate, a soft hyphen
    # between full-width letters: each way of reading the text (a code-point table, str.translate) counts
    # the same runs as the strings do.
    base = "国务院新闻办公室今天发表白皮书，介绍西部大开发的进展与成效。" * 2
    for odd in ("ﬁnance ㈱", "𠀀𠀁𠀂 𪚥", "\ud800", "Ｗ\u00adＴＯ"):
        text = base + odd + base[::-1]
        assert stories._HEADER.unpack_from(stories.signature(text))[4] == len(stories.shingles(text)), odd


def test_the_estimate_errs_as_independent_permutations_do(labelled, signed):
    # Equal values estimate the Jaccard similarity; with independent
    # permutations each value is equal with chance J, so the error over k
    # values has standard deviation sqrt(J (1 - J) / k). Permutations that
    # move together (a weak family, a shared factor) err more widely.
    texts, pairs = labelled
    runs = {key: stories.shingles(text) for key, text in texts.items()}
    scaled = []
    for p in pairs:
        a, b = runs[p["a"]], runs[p["b"]]
        exact = len(a & b) / len(a | b)
        values = [np.frombuffer(signed[k], dtype="<u4", offset=stories._HEADER.size) for k in (p["a"], p["b"])]
        estimate = np.count_nonzero(values[0] == values[1]) / stories.PERMUTATIONS
        if 0 < exact < 1:
            scaled.append((estimate - exact) / math.sqrt(exact * (1 - exact) / stories.PERMUTATIONS))
    assert len(scaled) > 500
    assert abs(statistics.mean(scaled)) < 0.1, "the estimate is biased"
    assert 0.85 < statistics.pstdev(scaled) < 1.15, f"error {statistics.pstdev(scaled):.2f} x independent permutations'"


def test_the_story_is_named_after_its_first_article(labelled, signed):
    _, pairs = labelled
    pair = next(p for p in pairs if p["same"] and p["edit"] == "traditional")
    copy = stories.signature(labelled[0][pair["a"]] + "\n责任编辑：林妍")
    items = [("late", signed[pair["b"]]), ("first", signed[pair["a"]]), ("copy", copy)]
    assert stories.group(items) == {"late": "late", "first": "late", "copy": "late"}
    assert stories.group(items[::-1]) == {"late": "copy", "first": "copy", "copy": "copy"}


def test_traditional_width_and_case_do_not_matter():
    text = "世界贸易组织（WTO）总干事说，发展中国家的经济发展与环境保护必须兼顾，各国应当加强协调与合作。" * 3
    variant = "世界貿易組織（ＷＴＯ）總幹事說，發展中國家的經濟發展與環境保護必須兼顧，各國應當加強協調與合作。" * 3
    assert stories.shared(stories.signature(text), stories.signature(variant)) == 1.0


def test_short_and_empty_bodies_are_stories_of_their_own():
    short = "视频：记者现场报道。"
    items = [("a", stories.signature(short)), ("b", stories.signature(short)),
             ("c", stories.signature("")), ("d", stories.signature(""))]
    assert stories.group(items) == {"a": "a", "b": "b", "c": "c", "d": "d"}


def test_grouping_checks_candidates_not_all_pairs(labelled, signed, monkeypatch):
    # Different articles (no reposts among them): LSH must propose only a
    # small share of all pairs for checking.
    texts, _ = labelled
    originals = [(key, signed[key]) for key in texts if key.startswith("o")]
    checked = []
    real = stories._shared
    monkeypatch.setattr(stories, "_shared", lambda *args: checked.append(1) or real(*args))
    stories.group(originals)
    all_pairs = len(originals) * (len(originals) - 1) // 2
    assert len(originals) > 300
    assert len(checked) < 0.01 * all_pairs, f"{len(checked)} of {all_pairs} pairs checked"


def joined_pairs(fresh: dict[str, bytes], stored: dict[str, bytes]) -> set[tuple[str, str]]:
    """Every pair with a fresh article that agrees on a whole band and shares
    enough text: what group() joins, pair by pair."""
    read = stories._Signatures()
    values = {key: read.read(key, value) for key, value in {**stored, **fresh}.items()}
    width = stories.PERMUTATIONS // stories.BANDS
    pairs = set()
    for n, a in enumerate(fresh):
        for b in [*list(fresh)[n + 1:], *stored]:
            (count_a, va), (count_b, vb) = values[a], values[b]
            if min(count_a, count_b) < stories.MIN_SHINGLES:
                continue
            banded = any((va[i * width:(i + 1) * width] == vb[i * width:(i + 1) * width]).all()
                         for i in range(stories.BANDS))
            if banded and stories._shared(count_a, va, count_b, vb) >= stories.SHARE:
                pairs.add((a, b))
    return pairs


# With a mixing that gives every band of a band number one key, every
# stored article is a candidate: only the comparison of values may decide.
@pytest.mark.parametrize(("seed", "colliding"), [(0, False), (1, False), (2, True)])
def test_neighbours_are_the_pairs_grouping_joins(signed, seed, colliding, monkeypatch):
    if colliding:
        monkeypatch.setattr(stories, "_MIX", stories._MIX * 0)
    rng = random.Random(seed)
    keys = rng.sample(sorted(signed), 260)
    stored = {key: signed[key] for key in keys[:200]}
    fresh = {key: signed[key] for key in keys[200:]}
    index = defaultdict(list)
    for key, value in stored.items():
        for band in stories.band_keys(value):
            index[band].append(key)
    asked = []

    def lookup(band_keys):
        asked.append(len(band_keys))
        return [(band, key) for band in band_keys for key in index.get(band, [])]

    found = stories.neighbours(fresh.items(), lookup, lambda wanted: [(key, stored[key]) for key in wanted])
    expected = joined_pairs(fresh, stored)
    assert {tuple(sorted(pair)) for pair in found} == {tuple(sorted(pair)) for pair in expected}
    assert len(expected) >= 5, "the sample holds reposts"
    assert asked == [len({band for value in fresh.values() for band in stories.band_keys(value)})]


def test_signatures_of_other_parameters_or_garbage_are_refused(labelled):
    text = next(iter(labelled[0].values()))
    assert stories.is_current(stories.signature(text))
    other = stories.signature(text, shingle=4)
    assert not stories.is_current(other)
    with pytest.raises(ValueError, match="'b'.*same parameters"):
        stories.group([("a", stories.signature(text)), ("b", other)])
    with pytest.raises(ValueError, match="'x': not a story signature"):
        stories.group([("x", b"not a signature")])
    with pytest.raises(ValueError, match="distinct keys"):
        stories.group([("a", stories.signature(text)), ("a", stories.signature(text))])


def test_a_pair_sharing_values_but_no_whole_band_is_not_joined(labelled, monkeypatch):
    """Two thirds of the values equal, yet no band of three all equal: group
    does not join them, nor does neighbours when every key collides (the
    values, not the keys, decide)."""
    text = max(labelled[0].values(), key=len)
    first = stories.signature(text)
    size = len(first) - 4 * stories.PERMUTATIONS
    values = np.frombuffer(first, dtype="<u4", offset=size).copy()
    values[2::3] ^= 1
    second = first[:size] + values.astype("<u4").tobytes()
    assert stories.shared(first, second) >= stories.SHARE
    assert stories.group([("a", first), ("b", second)]) == {"a": "a", "b": "b"}
    monkeypatch.setattr(stories, "_MIX", stories._MIX * 0)
    keys = stories.band_keys(first)
    assert keys == stories.band_keys(second)
    found = stories.neighbours([("b", second)], lambda asked: [(key, "a") for key in asked if key in keys],
                               lambda wanted: [("a", first)])
    assert found == set()
