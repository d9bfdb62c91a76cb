"""Near-duplicate articles grouped into stories (bannedbook/research/stories.py)."""

from __future__ import annotations

import math
import random
import statistics
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


# The stored signatures are banded a chunk at a time: chunks smaller than
# the archive must find the same stories.
@pytest.mark.parametrize(("seed", "chunk"), [(0, stories._CHUNK), (1, stories._CHUNK), (2, 50), (3, 7)])
def test_incremental_regrouping_gives_the_full_grouping(labelled, signed, seed, chunk, monkeypatch):
    """Regrouping only what affected_stories names gives what grouping the
    whole archive gives, for articles added (reposts among them), removed
    and changed in place."""
    monkeypatch.setattr(stories, "_CHUNK", chunk)
    rng = random.Random(seed)
    keys = list(signed)
    rng.shuffle(keys)  # date order
    stored = keys[: len(keys) * 3 // 4]
    before = stories.group((k, signed[k]) for k in stored)

    added = keys[len(stored):]
    removed = set(rng.sample(stored, 40))
    # A changed article keeps its key and place and gets another's text.
    changed = {k: signed[rng.choice(keys)] for k in rng.sample([k for k in stored if k not in removed], 20)}
    now = {**{k: signed[k] for k in stored if k not in removed}, **changed, **{k: signed[k] for k in added}}
    order = [k for k in keys if k in now]

    affected = stories.affected_stories(
        before,
        [(k, signed[k]) for k in stored],
        [(k, now[k]) for k in [*changed, *added]],
        removed,
    )
    again = [k for k in order if k in changed or k in added or before[k] in affected]
    after = {k: story for k, story in before.items() if k in now} | stories.group((k, now[k]) for k in again)
    assert after == stories.group((k, now[k]) for k in order)
    assert len(again) < len(order), "regrouped the whole archive"


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
