"""Versions of an article: what changed between two texts of it, and when
it vanished. Pure functions; the writer (bannedbook/db/versionstore.py)
stores what they compute and the web layer shows it.

A version is a distinct *normalised* text: the title and the body's
paragraphs (captions left out) as extraction yields them, through
chinese.normalise and text/variants.py's fold (comparable), so the site's
Traditional mirror, a page in another encoding or a changed sidebar is
never a new version.

A diff is made once, at build time: paragraphs are matched first (a
paragraph found unchanged elsewhere is *moved*, not removed and added),
then the characters inside each run of changed paragraphs, by
fast-diff-match-patch (Google's diff-match-patch in C++) with a time limit;
past it a run is shown as replaced whole and the diff marked inexact.
Characters are compared normalised and shown as written, so a switch of
script is no change and the diff reads in the article's own script.
"""

from __future__ import annotations

import hashlib
import re
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import fast_diff_match_patch

from bannedbook.db.schema import FTS_TABLE, tagged_sql
from bannedbook.search.query import match_expression
from bannedbook.text.chinese import BEYOND_BMP, normalise, normalise_with_offsets
from bannedbook.text.variants import fold

# Captures that say the article is gone from where it was: an HTTP 404 or
# 410, or the site's own notice in its place (is_removal_notice). Each is
# the capture's reason in raw_files and captures.why.
NOTICE = "removal-notice"
GONE_REASONS = ("HTTP 404", "HTTP 410", NOTICE)

# The site is WordPress: its "not found" page carries body class error404
# (whatever the status it is sent with), and its text says so in Chinese
# or English. Only a page that holds no article is read this way.
NOTICE_CLASSES = frozenset({"error404"})
_NOTICE_TEXT = re.compile(
    r"(页面|網頁|网页|頁面|文章|内容|內容)\s*(不存在|未找到|找不到|没有找到|沒有找到|已被?删除|已被?刪除|已下架)"
    r"|(找不到|未找到)\s*(页面|頁面|网页|網頁)|page not found|nothing (was )?found|404 not found",
    re.IGNORECASE)

# A run of changed paragraphs whose lengths multiply to at most this is
# diffed exactly (without a time limit, so every build makes the same diff:
# a few milliseconds at most); a longer one gets what is left of the pair's
# time limit, and the version is marked inexact.
EXACT_WORK = 4_000_000
TIME_LIMIT = 0.04
# Paragraphs of a changed run are paired (old with the new one it became)
# when the run is no bigger than this many candidate pairs, and when they
# share at least this share of their character bigrams.
MAX_PAIRINGS = 2_500
ALIKE = 0.3
# A paragraph found out of place is taken as moved (and edited) when this alike.
ALIKE_MOVED = 0.5


def is_removal_notice(title: str, classes: set[str] | frozenset[str] = frozenset()) -> bool:
    """Whether a page without an article is the site's notice that the
    page is gone: its body's classes, else its title or heading."""
    return bool(NOTICE_CLASSES & set(classes)) or bool(_NOTICE_TEXT.search(title or ""))


def text_parts(title: str, body: str) -> list[str]:
    """A version's text: the title, then the body's paragraphs
    (articles.body and records.Article.body: one paragraph a line)."""
    return [title, *body.split("\n")] if body else [title]


def text_hash(parts: list[str]) -> str:
    """What makes two texts one version: the sha256 of the normalised text."""
    return hashlib.sha256(comparable("\n".join(parts)).encode("utf-8")).hexdigest()


def comparable(text: str) -> str:
    """Text as versions compare it: normalised as search does, and the
    spellings a Traditional rendering or a legacy encoding may differ by
    written one way (text/variants.py). Both work one character at a
    time, so one table read by str.translate does both (as normalise's
    does, a list for the BMP, filled as characters are first met)."""
    if BEYOND_BMP.search(text):
        return fold(normalise(text))
    try:
        return text.translate(_COMPARABLE)
    except TypeError:  # a character not in the table yet
        for char in set(text):
            _COMPARABLE[ord(char)] = fold(normalise(char))
        return text.translate(_COMPARABLE)


_COMPARABLE: list = [object()] * 0x10000  # not a str: str.translate raises TypeError until a character is filled


@dataclass
class Diff:
    """From one version to the next. blocks, in the new text's order:
    ["=", n]          n paragraphs unchanged
    ["m", text]       a paragraph moved here from elsewhere, unchanged
    ["M", segments]   a paragraph moved here and edited: segments as below
    ["~", segments]   a run of changed paragraphs: [op, text] with op "="
                      (kept), "-" (removed) or "+" (added); "\n" between
                      paragraphs, so the "=" and "-" text is the run's old
                      paragraphs and the "=" and "+" text its new ones, each
                      joined by line breaks. Removed text is as the old
                      version wrote it, the rest as the new one does.
    Counts are of normalised characters (line breaks not counted)."""

    blocks: list = field(default_factory=list)
    chars_added: int = 0
    chars_removed: int = 0
    paragraphs_added: int = 0
    paragraphs_removed: int = 0
    paragraphs_moved: int = 0
    exact: bool = True


def diff(old: list[str], new: list[str], time_limit: float = TIME_LIMIT) -> Diff:
    """The diff from text parts old to new (see text_parts)."""
    deadline = time.perf_counter() + time_limit
    norm_old, norm_new = [comparable(p) for p in old], [comparable(p) for p in new]
    result = Diff()
    moved = _moved(norm_old, norm_new)  # new index -> old index
    result.paragraphs_moved = len(moved)
    moved_old = set(moved.values())
    keep_old = [i for i in range(len(old)) if i not in moved_old]
    keep_new = [j for j in range(len(new)) if j not in moved]
    # Items (position in the new text, block); a run that only removes sits
    # just before the paragraph that follows it.
    items: list[tuple[float, list]] = [
        (j, ["m", new[j]] if norm_old[i] == norm_new[j] else ["M", _segments([old[i]], [new[j]], deadline, result)])
        for j, i in moved.items()]
    matcher = SequenceMatcher(None, [norm_old[i] for i in keep_old], [norm_new[j] for j in keep_new],
                              autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            items += [(keep_new[j], ["=", 1]) for j in range(j1, j2)]
            continue
        gone, came = keep_old[i1:i2], keep_new[j1:j2]
        where = came[0] if came else (keep_new[j1] - 0.5 if j1 < len(keep_new) else len(new))
        segments = _run([old[i] for i in gone], [new[j] for j in came],
                        [norm_old[i] for i in gone], [norm_new[j] for j in came], deadline, result)
        items.append((where, ["~", segments]))
    for _, block in sorted(items, key=lambda item: item[0]):
        if block[0] == "=" and result.blocks and result.blocks[-1][0] == "=":
            result.blocks[-1][1] += 1
        else:
            result.blocks.append(block)
    return result


def _moved(old: list[str], new: list[str]) -> dict[int, int]:
    """Paragraphs that moved, new index -> old index: a paragraph found once
    in each text, or edited but still alike (ALIKE_MOVED), whose place is
    out of the order that most such paragraphs keep (a longest increasing
    run of their old positions, read in the new order)."""
    once_old, once_new = _unique(old), _unique(new)
    anchors = {j: once_old[text] for text, j in once_new.items() if text in once_old and text.strip()}
    # Paragraphs found on one side only may be one paragraph edited (and moved).
    in_old, in_new = set(old), set(new)
    lone_old = [i for i in range(len(old)) if old[i] not in in_new and old[i].strip()]
    lone_new = [j for j in range(len(new)) if new[j] not in in_old and new[j].strip()]
    if lone_old and lone_new and len(lone_old) * len(lone_new) <= MAX_PAIRINGS:
        grams = {i: _bigrams(old[i]) for i in lone_old}
        scored = sorted(((_likeness(grams[i], _bigrams(new[j])), i, j) for j in lone_new for i in lone_old),
                        reverse=True)
        taken_old, taken_new = set(), set()
        for alike, i, j in scored:
            if alike < ALIKE_MOVED:
                break
            if i not in taken_old and j not in taken_new:
                anchors[j] = i
                taken_old.add(i)
                taken_new.add(j)
    order = sorted(anchors)
    # Longest increasing subsequence of old positions (patience sorting).
    tails: list[int] = []
    tail_at: list[int] = []
    previous = [-1] * len(order)
    for k, j in enumerate(order):
        spot = bisect_left(tails, anchors[j])
        if spot == len(tails):
            tails.append(anchors[j])
            tail_at.append(k)
        else:
            tails[spot], tail_at[spot] = anchors[j], k
        previous[k] = tail_at[spot - 1] if spot else -1
    kept, k = set(), tail_at[-1] if tail_at else -1
    while k >= 0:
        kept.add(order[k])
        k = previous[k]
    return {j: anchors[j] for j in order if j not in kept}


def _unique(texts: list[str]) -> dict[str, int]:
    """Texts found exactly once, with their position, in order."""
    seen: dict[str, int] = {}
    twice = set()
    for i, text in enumerate(texts):
        if text in seen:
            twice.add(text)
        seen.setdefault(text, i)
    return {text: i for text, i in seen.items() if text not in twice}


def _run(old: list[str], new: list[str], norm_old: list[str], norm_new: list[str], deadline: float,
         result: Diff) -> list:
    """The segments of a run of changed paragraphs: each old paragraph
    paired with the new one it became (the most similar, in order), and
    diffed with it; one paired with none was removed or added whole."""
    if len(old) * len(new) > MAX_PAIRINGS:
        return _segments(old, new, deadline, result)
    items: list[tuple[str, int, int]] = []  # ("-", i, _), ("+", _, j) or ("=", i, j): a pair
    i = j = 0
    for pi, pj in [*_pairs(norm_old, norm_new), (len(old), len(new))]:
        items += [("-", k, -1) for k in range(i, pi)] + [("+", -1, k) for k in range(j, pj)]
        if pi < len(old):
            items.append(("=", pi, pj))
        i, j = pi + 1, pj + 1
    segments: list = []
    old_seen = new_seen = False  # each side's paragraphs are joined by its own line breaks
    for op, pi, pj in items:
        if op == "=":
            line = "=" if old_seen and new_seen else "-" if old_seen else "+" if new_seen else ""
            if line:
                _add(segments, line, "\n")
            for pair_op, text in _segments([old[pi]], [new[pj]], deadline, result):
                _add(segments, pair_op, text)
            old_seen = new_seen = True
        else:
            text = old[pi] if op == "-" else new[pj]
            _add(segments, op, ("\n" if (old_seen if op == "-" else new_seen) else "") + text)
            if op == "-":
                old_seen = True
                result.chars_removed += _count(text)
                result.paragraphs_removed += 1
            else:
                new_seen = True
                result.chars_added += _count(text)
                result.paragraphs_added += 1
    return segments


def _pairs(old: list[str], new: list[str]) -> list[tuple[int, int]]:
    """Which old paragraph became which new one: the pairs, in order, of
    the greatest total likeness (shared character bigrams), counting only
    pairs alike enough to be one paragraph edited."""
    grams_old, grams_new = [_bigrams(t) for t in old], [_bigrams(t) for t in new]
    best = [[0.0] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(1, len(old) + 1):
        for j in range(1, len(new) + 1):
            score = max(best[i - 1][j], best[i][j - 1])
            alike = _likeness(grams_old[i - 1], grams_new[j - 1])
            if alike >= ALIKE:
                score = max(score, best[i - 1][j - 1] + alike)
            best[i][j] = score
    pairs, i, j = [], len(old), len(new)
    while i and j:
        if best[i][j] == best[i - 1][j]:
            i -= 1
        elif best[i][j] == best[i][j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
    return pairs[::-1]


def _bigrams(text: str) -> set[str]:
    return {text[k:k + 2] for k in range(max(len(text) - 1, 1))}


def _likeness(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _segments(old: list[str], new: list[str], deadline: float, result: Diff) -> list:
    """The character diff of one run of changed paragraphs."""
    a, b = "\n".join(old), "\n".join(new)
    if not a or not b:
        result.chars_removed += _count(a)
        result.chars_added += _count(b)
        result.paragraphs_removed += len(old)
        result.paragraphs_added += len(new)
        return [[op, text] for op, text in (("-", a), ("+", b)) if text]
    norm_a, offsets_a = normalise_with_offsets(a)
    norm_b, offsets_b = normalise_with_offsets(b)
    norm_a, norm_b = fold(norm_a), fold(norm_b)  # one character for one: the offsets hold
    if len(norm_a) * len(norm_b) <= EXACT_WORK:
        ops = fast_diff_match_patch.diff(norm_a, norm_b, timelimit=0, checklines=False, cleanup="No")
    else:  # a long run rewritten: the library's time limit decides, and the diff may not be the least
        result.exact = False
        ops = fast_diff_match_patch.diff(norm_a, norm_b, timelimit=max(deadline - time.perf_counter(), 0.001),
                                         checklines=False, cleanup="No")
    segments: list = []
    kept_a, kept_b = bytearray(len(norm_a)), bytearray(len(norm_b))  # characters of each side kept
    i = j = 0
    for op, n in ops:
        if op == "=":
            _add(segments, "=", _original(b, offsets_b, j, j + n))
            kept_a[i:i + n], kept_b[j:j + n] = b"\1" * n, b"\1" * n
            i, j = i + n, j + n
        elif op == "-":
            _add(segments, "-", _original(a, offsets_a, i, i + n))
            result.chars_removed += n - norm_a.count("\n", i, i + n)
            i += n
        else:
            _add(segments, "+", _original(b, offsets_b, j, j + n))
            result.chars_added += n - norm_b.count("\n", j, j + n)
            j += n
    # A paragraph none of whose characters is kept was removed (or added) whole.
    result.paragraphs_removed += _untouched(norm_a, kept_a)
    result.paragraphs_added += _untouched(norm_b, kept_b)
    return segments


def _untouched(text: str, kept: bytearray) -> int:
    count, start = 0, 0
    for line in text.split("\n"):
        count += not any(kept[start:start + len(line)])
        start += len(line) + 1
    return count


def _count(text: str) -> int:
    return len(normalise(text)) - text.count("\n")


def _original(text: str, offsets: list[int], start: int, end: int) -> str:
    """The original characters normalised characters start..end came from."""
    if start >= end:
        return ""
    first = offsets[start]
    last = offsets[end] if end < len(offsets) else len(text)
    return text[first:last]


def _add(segments: list, op: str, text: str) -> None:
    if not text:
        return
    if segments and segments[-1][0] == op:
        segments[-1][1] += text
    else:
        segments.append([op, text])


def changed_text(blocks: list) -> tuple[str, str]:
    """(the text removed, the text added) by a diff, each as one string with
    a line between runs: where lexicon terms that disappeared or appeared
    are looked for."""
    removed, added = [], []
    for block in blocks:
        if block[0] in "~M":  # ["…", n]: unchanged text left out of a stored diff
            removed.append("".join(text for op, text in block[1] if op in "=-"))
            added.append("".join(text for op, text in block[1] if op in "=+"))
    return "\n".join(removed), "\n".join(added)


def removal_window(seen: list[str], gone: list[str]) -> tuple[str | None, str | None, str | None]:
    """(last_seen, removed_after, removed_before) from the capture times
    (ISO 8601) with the article's text and those that found it gone: the
    article is gone when a capture after the last one with its text found
    it gone, removed after that last capture and at or before the first
    such. A page that comes back clears it (its text is seen again)."""
    last_seen = max(seen) if seen else None
    after = [when for when in gone if last_seen is None or when > last_seen]
    if not after:
        return last_seen, None, None
    return last_seen, last_seen, min(after)


# ------------------------------------------------------------------ changes

# What /-/changes lists: each edit (a version after the first) and each
# removal, newest first, dated by the capture that showed it (`before`: the
# edit's version first seen, the first capture gone) after the last capture
# that had not (`after`).
CHANGE_KINDS = ("edited", "removed")
CHANGE_FILTERS = ("q", "tag", "author", "source", "term", "kind")
_CHANGES = """
select * from (
  select 'edited' as kind, a.id, a.title, a.author, a.source, a.url, v.version,
    (select p.last_seen from versions p where p.article_id = v.article_id and p.version = v.version - 1) as after,
    v.first_seen as before, v.chars_added, v.chars_removed, v.paragraphs_removed,
    (select group_concat(term, ' ') from version_terms t where t.article_id = v.article_id
       and t.version = v.version and t.change = 'removed') as terms_removed,
    (select group_concat(term, ' ') from version_terms t where t.article_id = v.article_id
       and t.version = v.version and t.change = 'added') as terms_added
  from versions v join articles a on a.id = v.article_id
  where v.version > 1 and {edited}
  union all
  select 'removed', a.id, a.title, a.author, a.source, a.url, null, a.removed_after, a.removed_before,
    null, null, null, null, null
  from articles a where a.removed_before is not null and {removed}
) order by before is null, before desc, id, version
"""


def changes_sql(args: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The SQL of the changes the filters in args select (CHANGE_FILTERS:
    q a search, as the search box takes it; tag, author, source as the
    search page's; term a lexicon term the edit removed, or, for a removal,
    one the article held; kind edited or removed) and its parameters."""
    common, params = [], {}
    if args.get("q"):
        common.append(f"a.rowid in (select rowid from [{FTS_TABLE}] where [{FTS_TABLE}] match :q)")
        params["q"] = match_expression(args["q"])
    if args.get("tag"):
        common.append(tagged_sql("tag").replace("id in", "a.id in", 1))
        params["tag"] = normalise(args["tag"])
    for name in ("author", "source"):
        if args.get(name):
            common.append(f"a.{name} = :{name}")
            params[name] = args[name]
    edited, removed = list(common), list(common)
    if args.get("term"):
        params["term"] = args["term"]
        edited.append("""exists (select 1 from version_terms t where t.article_id = v.article_id
                         and t.version = v.version and t.term = :term and t.change = 'removed')""")
        removed.append("a.id in (select article_id from article_terms where term = :term)")
    kind = args.get("kind")
    if kind == "edited":
        removed.append("0")
    elif kind == "removed":
        edited.append("0")
    return (_CHANGES.format(edited=" and ".join(edited) or "1", removed=" and ".join(removed) or "1"), params)
