"""Writing versions: the texts an article had across its pages, the diff
from each to the next, when each was seen, and when the article vanished
(the rules are bannedbook/research/versions.py's).

While pages are written, the writer (store.Store) tells `Versions` which
text each page of an article holds. Every article gets a version 1; texts
(and which page holds which, page_texts) are kept only for articles that
turn out to have more than one: the first text of an article is the one its page shows so far, read
back from the new article row when a second text arrives. `Versions.settle` then numbers and diffs them. An incremental
build reads every page of an article it touches again, so the versions of
an article are always made from all its pages together, as in a full build.
At the end `write_seen` dates every version from the captures (revisits
included) and sets each article's last_seen and removal window.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

import sqlite_utils

from bannedbook.records import Article
from bannedbook.research.lexicon import count_hits, searchable
from bannedbook.research.versions import GONE_REASONS, changed_text, diff, removal_window, text_hash, text_parts
from bannedbook.text.chinese import normalise


class Versions:
    """What the writer learns of the texts of the articles it writes."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        # page_texts rows to write, for articles with more than one text
        # only (an article with one text has it in every page).
        self.rows: list[tuple[str, str, str]] = []
        self.earlier: dict[str, str] = {}  # article id -> the text of its pages before a second text came
        self.first: dict[str, str] = {}  # article id -> its only text's hash, so far
        # article id -> text hash -> (rank, path, parts) of the best page holding it
        self.texts: dict[str, dict[str, tuple]] = {}

    def page(self, key: str, sha256: str, digest: str | None, article: Article, rank: tuple, path: str,
             holder: tuple[str, tuple] | None, holder_text: Callable[[], tuple[str, str]]) -> None:
        """A page of article key (its bytes' sha256) holding article, whose
        text has the hash digest (made by a worker: versions.text_hash),
        before the writer decides whether it shows the article; holder: the
        (path, rank) of the page that shows it so far."""
        digest = digest or text_hash(text_parts(article.title, article.body))
        if key in self.texts:
            self.rows.append((key, sha256, digest))
            best = self.texts[key].get(digest)
            if best is None or rank < best[0]:
                self.texts[key][digest] = (rank, path, text_parts(article.title, article.body))
        elif key not in self.first:
            self.first[key] = digest
        elif self.first[key] != digest:
            # A second text: the first is the one the article shows so far,
            # and every page of it written so far holds that text.
            first_title, first_body = holder_text()
            first = self.first.pop(key)
            self.earlier[key] = first  # its pages before this one get their page_texts rows in settle
            self.rows.append((key, sha256, digest))
            self.texts[key] = {first: (holder[1], holder[0], text_parts(first_title, first_body)),
                               digest: (rank, path, text_parts(article.title, article.body))}
        if len(self.rows) >= 1000:
            self.flush()

    def flush(self) -> None:
        self.db.conn.executemany("insert or ignore into page_texts values (?, ?, ?)", self.rows)
        self.rows.clear()

    def settle(self, holders: dict[str, tuple[str, tuple]]) -> None:
        """Once every page is written (holders: article id -> (path, rank)
        of the page it is shown from): for each article with more than one
        text, a version per text, numbered by when captures first had it,
        each diffed from the one before (stored compact: see compact)."""
        self.flush()
        # Every page of such an article not given a text since holds the first
        # one: found in one pass over raw_files (no index on it yet in a full build).
        self.db.execute("create temp table if not exists earlier (id text primary key, text_sha256 text)")
        self.db.conn.executemany("insert into temp.earlier values (?, ?)", self.earlier.items())
        self.db.execute("""insert or ignore into page_texts select r.article_id, r.sha256, e.text_sha256
                           from raw_files r join temp.earlier e on e.id = r.article_id where r.sha256 is not null""")
        self.db.execute("delete from temp.earlier")
        self.earlier.clear()
        rows = []
        # When captures first had each text, in one pass over captures.
        self.db.execute("create temp table if not exists several (id text primary key)")
        self.db.conn.executemany("insert into temp.several values (?)", [(key,) for key in self.texts])
        firsts: dict[str, dict[str, str]] = defaultdict(dict)
        for key, digest, when in self.db.execute(
                """select c.article_id, p.text_sha256, min(c.captured) from captures c
                   join temp.several s on s.id = c.article_id
                   join page_texts p on p.article_id = c.article_id and p.sha256 = c.sha256
                   group by c.article_id, p.text_sha256"""):
            firsts[key][digest] = when
        self.db.execute("delete from temp.several")
        for key, texts in self.texts.items():
            if key not in holders:
                continue
            first_seen = firsts[key]
            # Undated texts (plain files, captures without a valid date) after the dated ones.
            order = sorted(texts, key=lambda d: (first_seen.get(d) is None, first_seen.get(d) or "", texts[d][1]))
            previous = None
            for number, digest in enumerate(order, 1):
                _, path, parts = texts[digest]
                row = {"article_id": key, "version": number, "sha256": digest, "path": path, "exact": 1}
                if previous is not None:
                    change = diff(previous, parts)
                    row.update(chars_added=change.chars_added, chars_removed=change.chars_removed,
                               paragraphs_added=change.paragraphs_added,
                               paragraphs_removed=change.paragraphs_removed,
                               paragraphs_moved=change.paragraphs_moved, exact=int(change.exact),
                               diff=json.dumps(compact(change.blocks), ensure_ascii=False, separators=(",", ":")))
                rows.append(row)
                previous = parts
        # An article with one text has one version: its text is the article's (no page_texts rows needed).
        rows += [{"article_id": key, "version": 1, "sha256": digest, "path": holders[key][0], "exact": 1}
                 for key, digest in self.first.items() if key in holders]
        empty = dict.fromkeys(("first_seen", "last_seen", "captures", "chars_added", "chars_removed",
                               "paragraphs_added", "paragraphs_removed", "paragraphs_moved", "diff"))
        self.db["versions"].insert_all(({**empty, **row} for row in rows), batch_size=1000)
        self.first.clear()
        self.texts.clear()


# Unchanged text kept on each side of a change inside a changed paragraph;
# the rest is stored as its length (["…", n]), so a version stores about
# what changed. The whole text of any version is its capture (versions.path).
CONTEXT = 30


def compact(blocks: list) -> list:
    """blocks (research/versions.Diff) with the unchanged text inside
    changed paragraphs cut to CONTEXT characters around each change."""
    out = []
    for block in blocks:
        if block[0] not in "~M":
            out.append(block)
            continue
        segments = []
        for op, text in block[1]:
            if op != "=":
                segments.append([op, text])
                continue
            for n, line in enumerate(text.split("\n")):
                if n:
                    segments.append(["=", "\n"])
                if len(line) > 2 * CONTEXT + 10:
                    segments += [["=", line[:CONTEXT]], ["…", len(line) - 2 * CONTEXT], ["=", line[-CONTEXT:]]]
                elif line:
                    segments.append(["=", line])
        out.append([block[0], segments])
    return out


def write_seen(db: sqlite_utils.Database, url_id: Callable[[str], str]) -> None:
    """Date every version from the captures with its text (first_seen,
    last_seen, captures), and give every article removed_after/removed_before
    when a capture after its last_seen (store.date_captures) found the page
    gone (GONE_REASONS) at a URL of the article (url_id: the article id a
    URL names, store.url_id)."""
    db.execute("drop table if exists temp.seen")
    db.execute("""create temp table seen (article_id text, text_sha256 text, first text, last text, n integer,
                                          primary key (article_id, text_sha256))""")
    db.execute("""insert into temp.seen select c.article_id, p.text_sha256, min(c.captured), max(c.captured), count(*)
                  from captures c join page_texts p on p.article_id = c.article_id and p.sha256 = c.sha256
                  group by c.article_id, p.text_sha256""")
    db.execute("""update versions set (first_seen, last_seen, captures) = (
                      select first, last, n from temp.seen s
                      where s.article_id = versions.article_id and s.text_sha256 = versions.sha256)""")
    # A version of an article with one text is dated by all the article's captures.
    db.execute("""update versions set (first_seen, last_seen, captures) = (
                      select min(c.captured), max(c.captured), count(*) from captures c
                      where c.article_id = versions.article_id)
                  where not exists (select 1 from page_texts p where p.article_id = versions.article_id)""")
    db.execute("update versions set captures = 0 where captures is null")
    db.execute("drop table temp.seen")
    gone: dict[str, list[str]] = defaultdict(list)
    marks = ", ".join("?" * len(GONE_REASONS))
    for url, when in db.execute(f"""select url, captured from captures where status = 'rejected'
                                    and why in ({marks}) and captured is not null and url is not null""",
                                GONE_REASONS):
        gone[url_id(url)].append(when)
    # The captures with text of those articles, in one pass (captures has no index yet in a full build).
    db.execute("create temp table if not exists gone_ids (id text primary key)")
    db.conn.executemany("insert into temp.gone_ids values (?)", [(key,) for key in gone])
    seen_of: dict[str, list[str]] = defaultdict(list)
    for key, when in db.execute("""select article_id, captured from captures
                                   where article_id in (select id from temp.gone_ids) and captured is not null"""):
        seen_of[key].append(when)
    db.execute("drop table temp.gone_ids")
    windows = {}
    for key, times in gone.items():
        seen = seen_of[key]
        if not seen and not db.execute("select 1 from articles where id = ?", [key]).fetchone():
            continue  # a URL the archive holds no article of
        _, after, before = removal_window(seen, times)
        if before:
            windows[key] = (after, before)
    # Only rows whose window changes are written: an article row holds its body.
    held = {key: (after, before) for key, after, before in db.execute(
        "select id, removed_after, removed_before from articles where removed_before is not null")}
    db.conn.executemany("update articles set removed_after = ?, removed_before = ? where id = ?",
                        [(*windows.get(key, (None, None)), key) for key in held.keys() | windows.keys()
                         if held.get(key) != windows.get(key)])


def write_version_terms(db: sqlite_utils.Database) -> None:
    """(Re)write version_terms from the lexicon the database holds: per
    version, the terms it has fewer or more occurrences of than the version
    before, counted in the paragraphs the diff changed (the others are the
    same in both), by the lexicon's own matching (lexicon.count_hits)."""
    db["version_terms"].delete_where()
    if not db["lexicon"].exists():
        return
    phrases: dict[str, list[str]] = defaultdict(list)  # normalised phrase -> terms as written
    for (term,) in db.execute("select distinct term from lexicon"):
        phrase = searchable(term)
        if phrase:
            phrases[phrase].append(term)
    if not phrases:
        return
    rows = []
    for key, number, blocks in db.execute("select article_id, version, diff from versions where diff is not null"):
        removed, added = changed_text(json.loads(blocks))
        before, after = _occurrences(removed, phrases), _occurrences(added, phrases)
        for phrase in before.keys() | after.keys():
            change = after.get(phrase, 0) - before.get(phrase, 0)
            if change:
                rows += [{"article_id": key, "version": number, "term": term,
                          "change": "added" if change > 0 else "removed", "occurrences": abs(change)}
                         for term in phrases[phrase]]
    db["version_terms"].insert_all(rows, batch_size=1000)


def _occurrences(text: str, phrases: dict[str, list[str]]) -> dict[str, int]:
    """Occurrences of each phrase in text (only those it holds)."""
    normalised = normalise(text)
    found = tuple(phrase for phrase in phrases if phrase in normalised)
    return dict(zip(found, count_hits(("", text, found)), strict=True)) if found else {}
