"""What two builds must agree on to be the same archive, and small random
crawls to build: the shared parts of the incremental property test
(tests/test_incremental_property.py) and the build benchmark's equality check."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sqlite3
from pathlib import Path

from bannedbook.db.schema import FTS_TABLE, TABLES
from bannedbook.research.trends import Params, compute
from bannedbook.search.query import match_expression
from helpers.pages import full_page
from helpers.warcs import Entry, write_warc

# Columns left out: when a file was seen, not what it holds.
VOLATILE = {"raw_files": {"mtime_ns"}, "warc_files": {"mtime_ns"}}
QUERIES = ["中国", "经济", "北京 OR 上海", "台湾 -美国", "人民"]


def exact(db: Path, trends: bool = True) -> dict:
    """Everything a reader can see of db, keys included: every table's rows
    (articles with their rowids), the search index's entries (term,
    rowid, column, offset) and per-document sizes, each query's matches
    newest first, and (trends) the monthly trends of the queries."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dump: dict = {}
    for table in TABLES:
        names = [row[1] for row in conn.execute(f"pragma table_info([{table}])") if row[1] not in
                 VOLATILE.get(table, ())]
        select = ", ".join(f"[{name}]" for name in names)
        rowid = "rowid, " if table == "articles" else ""
        dump[table] = sorted(conn.execute(f"select {rowid}{select} from [{table}]"), key=repr)
    conn.execute(f"create virtual table temp.vocab using fts5vocab(main, '{FTS_TABLE}', 'instance')")
    dump["index"] = sorted(conn.execute("select term, doc, col, offset from temp.vocab"), key=repr)
    dump["index sizes"] = conn.execute(f"select * from [{FTS_TABLE}_docsize] order by id").fetchall()
    for query in QUERIES:
        dump[f"search {query}"] = conn.execute(
            f"""select articles.id, articles.date_order from [{FTS_TABLE}]
                join articles on articles.rowid = [{FTS_TABLE}].rowid
                where [{FTS_TABLE}] match ? order by [{FTS_TABLE}].rowid desc""",
            [match_expression(query)]).fetchall()
    dump["newest"] = conn.execute("select id from articles order by date_order desc limit 20").fetchall()
    if trends:
        for stories in (False, True):
            found = compute(conn, Params(QUERIES[:3], [], by="month", stories=stories), dt.date(2030, 1, 1))
            dump[f"trends stories={stories}"] = (
                [(p.label, p.first, p.last, p.articles) for p in found.periods], found.totals,
                [(line.counts, line.total, line.undated, line.outside) for line in found.series])
    conn.close()
    return dump


def digest(db: Path) -> str:
    """One hash of what exact(db) compares but the trends and the searches,
    streamed in a fixed order so a large archive is never held in memory:
    what a benchmark compares."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    total = hashlib.sha256()
    for table, (_, options) in TABLES.items():
        names = [row[1] for row in conn.execute(f"pragma table_info([{table}])") if row[1] not in
                 VOLATILE.get(table, ())]
        key = options.get("pk")
        order = ", ".join(f"[{name}]" for name in ([key] if isinstance(key, str) else key or names))
        rowid = "rowid, " if table == "articles" else ""
        total.update(table.encode())
        for row in conn.execute(f"select {rowid}{', '.join(f'[{n}]' for n in names)} from [{table}] order by {order}"):
            total.update(repr(row).encode())
    # Per term and column, how many articles hold it and how often (an
    # entry left behind changes both), and every article's token counts:
    # the per-entry comparison (exact) is too slow for a large archive.
    conn.execute(f"create virtual table temp.vocab using fts5vocab(main, '{FTS_TABLE}', 'col')")
    for row in conn.execute("select term, col, doc, cnt from temp.vocab"):  # in index order
        total.update(repr(row).encode())
    for row in conn.execute(f"select * from [{FTS_TABLE}_docsize] order by id"):
        total.update(repr(row).encode())
    conn.close()
    return total.hexdigest()


SENTENCES = [
    "中国经济在去年增长放缓，北京的官员表示将继续改革。",
    "上海的工厂重新开工，工人们说生活仍然困难。",
    "台湾选举之后，美国国务院发表声明表示关注。",
    "人民日报的评论文章批评了西方媒体的报道。",
    "香港的记者协会说新闻自由受到前所未有的压力。",
    "新疆的人权问题在联合国再次引起讨论。",
    "经济学家认为房地产市场的危机还没有结束。",
    "北京和上海的大学生毕业后找工作越来越难。",
]
TAGS = ["中国", "經濟", "北京", "台湾", "美国", "香港"]
DAYS = ["2023-11-30", "2023-12-01", "2024-01-15", "2024-01-15", "2024-02-29", None]


class RandomCrawl:
    """A raw folder changed at random, step by step: pages (HTML files)
    and WARC records of any date added, changed and removed."""

    def __init__(self, raw: Path, seed: int):
        self.raw, self.rng = raw, random.Random(seed)
        self.number = 0
        self.warcs = 0

    def page(self, number: int | None = None) -> tuple[str, bytes]:
        """A small page: a URL (the article), a date or none (with a time
        of day, sometimes), a few sentences and tags."""
        rng = self.rng
        if number is None:
            self.number += 1
            number = self.number
        day = rng.choice(DAYS)
        published = day and (day + rng.choice(["", f"T{rng.randint(0, 23):02d}:{rng.choice(['00', '30'])}:00"]))
        body = "".join(f"<p>{sentence}</p>" for sentence in rng.sample(SENTENCES, rng.randint(2, 4)))
        tags = "".join(f'<a href="https://www.bannedbook.org/bnews/tag/{tag}/" rel="tag">{tag}</a>'
                       for tag in rng.sample(TAGS, rng.randint(0, 2)))
        fragment = f"<h2>第{number}篇：{SENTENCES[number % len(SENTENCES)][:12]}</h2>" \
                   f'<div class="entry"><p>作者：记者{number % 3}</p>{body}<p>{tags}</p></div>'
        url = f"https://www.bannedbook.org/bnews/comments/2024010{number % 9}/{3000000 + number}.html"
        return url, full_page(published=published, fragment=fragment, url=url).encode("utf-8")

    def files(self, kind: str) -> list[Path]:
        pattern = "*.html" if kind == "html" else "*.warc.gz"
        return sorted(self.raw.rglob(pattern))

    CHANGES = ("add", "add warc", "change", "change warc", "remove", "remove warc", "repost")

    def step(self, what: str | None = None) -> str:
        """One change (what, else one drawn at random); returns what it did."""
        rng = self.rng
        html, warcs = self.files("html"), self.files("warc")
        what = what or rng.choice(self.CHANGES)
        if what == "change" and html:
            path = rng.choice(html)
            number = int(path.stem)
            path.write_bytes(self.page(number)[1])  # the same article (URL), new text or date
        elif what == "remove" and html:
            rng.choice(html).unlink()
        elif what == "repost" and html:
            source = rng.choice(html)
            path = self.raw / "pages" / f"{self.number + 1}.html"
            self.number += 1
            path.write_bytes(source.read_bytes().replace(b"/30", b"/31", 1))  # same text under another URL
        elif what == "add warc" or what == "change warc" and warcs:
            path = rng.choice(warcs) if what == "change warc" else self.raw / "warcs" / f"{self.warcs}.warc.gz"
            self.warcs += what == "add warc"
            entries = []
            for _ in range(rng.randint(1, 3)):
                url, body = self.page()
                entries.append(Entry(url, body, date=f"2024-03-0{rng.randint(1, 9)}T08:00:00Z"))
            write_warc(path, entries)
        elif what == "remove warc" and warcs:
            rng.choice(warcs).unlink()
        else:
            what = "add"
            for _ in range(rng.randint(1, 3)):
                self.number += 1
                path = self.raw / "pages" / f"{self.number}.html"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.page(self.number)[1])
        return what
