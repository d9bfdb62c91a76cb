"""The lexicon kept up to date by an incremental build
(bannedbook/research/lexicon.py, update_lexicon): after random sequences of
articles removed, changed and added (under rowids with gaps) and lexicon
edits (terms gained, lost, given another theme, other columns changed),
lexicon, article_terms, themes and lexicon_files equal what matching the
whole lexicon over the whole archive gives."""

from __future__ import annotations

import csv
import random
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from helpers.corpus import generate

from bannedbook.build.pipeline import build
from bannedbook.db.schema import FTS_TABLE
from bannedbook.research.lexicon import LEXICON_TABLES, read_lexicons, update_lexicon, write_lexicon
from bannedbook.search.index import index_row

THEMES = ["leaders", "economy", "places", None]


@pytest.fixture(scope="module")
def pool_of_terms(research_db) -> list[str]:
    """Terms as a researcher's list holds them: tags, phrases of the
    articles (some in Traditional characters), Latin words, and terms no
    article holds."""
    rng = random.Random(5)
    with sqlite3.connect(research_db) as conn:
        tags = [tag for (tag,) in conn.execute("select id from tags order by id")]
        bodies = [body for (body,) in conn.execute("select body from articles order by id limit 60")]
    words = [w for body in bodies for w in re.findall(r"[\u4e00-\u9fff]{2,6}", body)]
    terms = set(rng.sample(tags, min(40, len(tags))) + rng.sample(words, 80))
    terms |= {"江澤民", "經濟", "wto", "COVID-19", "中", "没有这个词语", "OR", "(李鹏)", "…"}
    return sorted(terms)


def write_csv(path: Path, rows: list[tuple[str, str | None, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["term", "theme", "note"])
        writer.writerows((term, theme or "", note) for term, theme, note in rows)
    return path


def seen(path: Path) -> dict:
    with sqlite3.connect(path) as conn:
        return {"lexicon": conn.execute("select * from lexicon order by rowid").fetchall(),
                **{table: sorted(conn.execute(f"select * from [{table}]"), key=repr)
                   for table in LEXICON_TABLES if table != "lexicon"}}


def change_articles(db: sqlite_utils.Database, rng: random.Random) -> set[str]:
    """Remove, change and add a few articles as an update would leave them
    (search index entries replaced); returns their ids."""
    ids = [key for (key,) in db.execute("select id from articles order by id")]
    removed = rng.sample(ids, 6)
    changed = rng.sample([key for key in ids if key not in removed], 6)
    donors = rng.sample([key for key in ids if key not in removed], 12)

    def unindex(key: str) -> None:
        rowid, title, body = db.execute("select rowid, title, body from articles where id = ?", [key]).fetchone()
        db.execute(f"insert into [{FTS_TABLE}] ([{FTS_TABLE}], rowid, body_index, title_index) "
                   "values ('delete', ?, ?, ?)", index_row((rowid, title, body)))

    def index(key: str) -> None:
        row = db.execute("select rowid, title, body from articles where id = ?", [key]).fetchone()
        db.execute(f"insert into [{FTS_TABLE}] (rowid, body_index, title_index) values (?, ?, ?)", index_row(row))

    for key in removed + changed:
        unindex(key)
    for key in removed:
        db.execute("delete from articles where id = ?", [key])
    for key, donor in zip(changed, donors, strict=False):
        db.execute("update articles set body = (select body from articles where id = ?) || '补充一句。' where id = ?",
                   [donor, key])
        index(key)
    added = []
    columns = [column[1] for column in db.execute("pragma table_info(articles)")]
    for n, donor in enumerate(donors[6:]):
        last = db.execute("select max(rowid) from articles").fetchone()[0]
        key = f"new{rng.random():.12f}{n}"
        row = dict(zip(columns, db.execute("select * from articles where id = ?", [donor]).fetchone(), strict=True))
        row.update(id=key, url=None, date_order=last + rng.randint(2, 50), body=row["body"][::-1], story=None)
        db.execute(f"insert into articles (rowid, {', '.join(row)}) values (?, {', '.join('?' * len(row))})",
                   [row["date_order"], *row.values()])
        index(key)
        added.append(key)
    return set(removed) | set(changed) | set(added)


@pytest.mark.parametrize("seed", range(3))
def test_random_changes_match_as_the_whole_lexicon_does(research_db, pool_of_terms, tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "incremental.db"
    shutil.copy(research_db, path)
    terms = {term: (rng.choice(THEMES), "first") for term in rng.sample(pool_of_terms, 60)}
    db = sqlite_utils.Database(path)
    write_lexicon(db, read_lexicons([write_csv(tmp_path / "l0.csv", [(t, *v) for t, v in terms.items()])]))
    db.close()
    for step in range(1, 4):
        db = sqlite_utils.Database(path)
        changed = change_articles(db, rng) if step != 2 else set()  # step 2: the lexicon alone
        for term in rng.sample(sorted(terms), 6):
            del terms[term]
        for term in rng.sample(sorted(terms), 6):
            terms[term] = (rng.choice(THEMES), "rethemed")
        for term in rng.sample([t for t in pool_of_terms if t not in terms], 6):
            terms[term] = (rng.choice(THEMES), f"step {step}")
        rows = [(t, *v) for t, v in terms.items()]
        rows.insert(3, (rows[0][0], "another theme", "twice"))  # one term in two themes
        lexicon = read_lexicons([write_csv(tmp_path / f"l{step}.csv", rows)])
        db.execute("create temp table if not exists changed (id text)")
        db.execute("delete from temp.changed")
        db.conn.executemany("insert into temp.changed values (?)", [(key,) for key in changed])
        report = update_lexicon(db, lexicon, "select id from temp.changed")
        db.close()
        full = tmp_path / f"full{step}.db"
        shutil.copy(path, full)
        whole = sqlite_utils.Database(full)
        write_lexicon(whole, lexicon)
        whole.close()
        got, expected = seen(path), seen(full)
        for table, rows in expected.items():
            assert got[table] == rows, (f"step {step}, {table}: missing {sorted(set(rows) - set(got[table]))[:5]}, "
                                        f"extra {sorted(set(got[table]) - set(rows))[:5]}")
        assert report.changed_terms is not None and report.articles <= len(changed)
    assert any(hits for *_, hits in seen(path)["article_terms"]), "terms were found"


def test_an_update_reads_only_the_changed_articles(research_db, tmp_path, monkeypatch):
    """A changed article is matched on its own: the counting step sees it
    alone, not the archive."""
    import bannedbook.research.lexicon as lexicon_module

    path = tmp_path / "db.db"
    shutil.copy(research_db, path)
    db = sqlite_utils.Database(path)
    (key,) = db.execute("select id from articles where body like '%经济%' limit 1").fetchone()
    counted = []
    real = lexicon_module.count_hits
    monkeypatch.setattr(lexicon_module, "count_hits", lambda item: counted.append(item) or real(item))
    lexicon = read_lexicons([write_csv(tmp_path / "l.csv", [("经济", "economy", ""), ("中国", None, "")])])
    write_lexicon(db, lexicon)
    assert len(counted) > 10
    counted.clear()
    update_lexicon(db, lexicon, f"select '{key}'")
    assert len(counted) == 1


def test_incremental_builds_match_the_lexicon_as_a_full_build(tmp_path):
    """Through the build: a page changed, one removed and the lexicon edited at once."""
    raw = tmp_path / "raw"
    generate(raw, 40, seed=11)
    db = tmp_path / "bannedbook.db"
    first = [("经济", "economy", ""), ("国务院", "state", ""), ("北京", "places", "")]
    build(raw, db, workers=2, progress=False, lexicon=[write_csv(tmp_path / "first.csv", first)])
    pages = sorted(path for path in raw.rglob("*") if path.is_file())
    changed = next(page for page in pages[5:] if "。".encode() in page.read_bytes())
    changed.write_bytes(changed.read_bytes().replace("。".encode(), "，经济改革。".encode(), 3))
    next(page for page in pages[5:] if page != changed).unlink()
    lexicon = write_csv(tmp_path / "terms.csv", [("经济改革", "economy", ""), ("國務院", "economy", ""),
                                                 ("北京", "places", ""), ("没有这个词语", None, "")])
    counts = build(raw, db, workers=2, progress=False, lexicon=[lexicon])
    assert counts.read and counts.lexicon.changed_terms == 5  # 3 gained, 2 lost
    build(raw, tmp_path / "full.db", workers=2, progress=False, lexicon=[lexicon], full=True)
    assert seen(db) == seen(tmp_path / "full.db")
    assert ("经济改革",) in {(term,) for _, term, _ in seen(db)["article_terms"]}
