"""The archive's tables, indexes and search index, in one place.

Imports nothing heavy, so the server, the writer and the tests can all read
the schema without loading the extractor.
"""

from __future__ import annotations

import re

# The search index is external-content FTS5 over articles, so Datasette and
# datasette-search-all find it (they look for content=[articles]). Its columns
# hold the text computed by chinese.index_columns and are named for what they
# hold: articles has no such columns, so the generic 'rebuild' command (and
# sqlite-utils rebuild-fts) fails loudly instead of silently re-indexing the
# unsegmented text. Rebuild it with store.rebuild_search_index().
#
# Articles are keyed in date order (rowid = date_order = the index's rowid,
# a sparse date key: date_key below), so the newest matches of a search are
# the index's last rowids: Datasette's "sort_desc: date_order" reads 20 of
# them instead of sorting every match, and its count seeks the small
# date_order index instead of the wide articles rows (metadata.yml: fts_pk:
# date_order).
FTS_TABLE = "articles_fts"
FTS_COLUMNS = ("body_index", "title_index")
FTS_SQL = f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING FTS5 ({', '.join(FTS_COLUMNS)}, content=[articles])"

# An article's date wherever the archive dates, counts or orders articles:
# the date its page states, else the earliest its text allows.
ARTICLE_DATE = "coalesce(published, not_before)"
# Date order, oldest first, is the order of date_key (below): undated
# articles before all others, so newest-first lists them last.
DATE_ORDER = "date_order"

# An article's date key: its day (the first 10 characters of its date) in
# the high bits, a slot within the day in the low SLOT_BITS. The day part is
# the day string's own order squeezed into DAY_BITS (the year as a number,
# then each of the next six characters as one of 16 classes that keep
# code-point order: end of text, below '-', '-', between '-' and '0', each
# digit, above '9'), so every day is one run of keys and days, months and
# years are key ranges computable from their text. The slot is the time of
# day when the date states one (HH:MM), then 14 bits of the article id; two
# articles that want one slot take the next free ones in (slot, id) order,
# so the keys depend on the articles of the day alone, never on the order in
# which builds met them (docs/design.md, "Date keys").
SLOT_BITS = 25
_SLOT_ID_BITS = 14
DAY_BITS = 38  # 14 for the year (0-9999), 4 for each of 6 characters
_TIME = re.compile(r"[T ]([01][0-9]|2[0-3]):([0-5][0-9])")


def _char_class(char: str) -> int:
    point = ord(char)
    if point < 0x2D:
        return 1
    if point == 0x2D:
        return 2
    if point < 0x30:
        return 3
    if point <= 0x39:
        return 4 + point - 0x30
    return 14


def day_number(date: str | None) -> int:
    """The day part of date_key: 0 for an undated article, else a number
    that orders day strings (date[:10]) as text does; distinct days share
    one only when they differ in characters of one class (not digits or
    '-'; docs/design.md)."""
    if not date:
        return 0
    year = int(date[:4]) if date[:4].isascii() and date[:4].isdigit() else -1
    number = year + 1  # 0 is for undated articles
    for char in date[4:10].ljust(6, "\0"):
        number = number << 4 | (0 if char == "\0" else _char_class(char))
    return number


def preferred_slot(date: str | None, key: str) -> int:
    """The slot an article wants within its day: the time the date states,
    then the top bits of its id (16 hex digits)."""
    if not date or len(date) <= 10:
        minute = 0
    elif time := _TIME.match(date, 10):
        minute = 1 + int(time[1]) * 60 + int(time[2])
    else:
        minute = 1441  # something after the day that is no time: after every time
    return minute << _SLOT_ID_BITS | int(key[:4], 16) >> (16 - _SLOT_ID_BITS)


def day_keys(articles: list[tuple[str, str | None]]) -> dict[str, int]:
    """The date keys of all the articles (id, date) of one day, together:
    each takes its preferred slot, or the next free one in (slot, id) order."""
    if not articles:
        return {}
    day = day_number(articles[0][1]) << SLOT_BITS
    keys, free = {}, 0
    for slot, key in sorted((preferred_slot(date, key), key) for key, date in articles):
        slot = max(slot, free)
        if slot >> SLOT_BITS:
            raise OverflowError(f"more than {1 << SLOT_BITS:,} articles on the day of {articles[0][1]!r}")
        keys[key], free = day | slot, slot + 1
    return keys


# A month (the first 7 characters of a date) is the key >> MONTH_SHIFT.
MONTH_SHIFT = SLOT_BITS + 12


TABLES = {
    # Near-duplicate articles (reposts, the other script, light edits) are
    # one story, named after its first article in date order; an article
    # alone is a story of one (bannedbook/db/storystore.py). Created before
    # articles, whose story column refers to it.
    "stories": (
        {"id": str, "title": str, "first_date": str, "last_date": str, "members": int, "sources": int},
        {"pk": "id"},
    ),
    "articles": (
        {
            "id": str, "url": str, "title": str, "author": str, "source": str,
            "source_url": str, "category": str, "site_number": int,
            "published": str, "not_before": str, "captured": str, "not_after": str,
            # The last capture with the text, and when the page was found gone
            # after it (research/versions.py): null while it is there.
            "last_seen": str, "removed_after": str, "removed_before": str,
            # story before body: read for every match when a search is
            # collapsed, it stays in the row's first page, never in the
            # overflow pages of a long body.
            "year": int, "date_order": int, "story": str,
            "script": str, "body": str, "file": str,
        },
        {"pk": "id", "not_null": {"title", "body"}, "foreign_keys": [("story", "stories", "id")]},
    ),
    # Each article's story signature (stories.signature of its body), made
    # by the build's workers and kept so an incremental build compares new
    # articles with the archive without reading every body again.
    "story_signatures": (
        {"article_id": str, "signature": bytes},
        {"pk": "article_id", "foreign_keys": [("article_id", "articles", "id")]},
    ),
    "paragraphs": (
        {"article_id": str, "position": int, "role": str, "text": str},
        {"pk": ("article_id", "position"), "foreign_keys": [("article_id", "articles", "id")]},
    ),
    # A tag keeps the spelling the page used (id, name); key is the same
    # tag whatever the script, case or width (chinese.normalise(name)), so
    # 中国 and 中國 count as one. article_tags repeats the key so counts and
    # filters read one index instead of joining tags for every row.
    "tags": ({"id": str, "name": str, "url": str, "key": str}, {"pk": "id"}),
    # Where a tag's url comes from: the first article (by file, then link
    # position) that links the tag. Kept so an update compares its new
    # articles with this one instead of every article carrying the tag.
    "tag_sources": (
        {"tag_id": str, "article_id": str, "file": str, "position": int},
        {"pk": "tag_id", "foreign_keys": [("tag_id", "tags", "id"), ("article_id", "articles", "id")]},
    ),
    "article_tags": (
        {"article_id": str, "tag_id": str, "tag_key": str},
        {"pk": ("article_id", "tag_id"),
         "foreign_keys": [("article_id", "articles", "id"), ("tag_id", "tags", "id")]},
    ),
    "links": (
        {"article_id": str, "position": int, "url": str, "text": str, "kind": str,
         "scheme": str, "target_article_id": str},
        {"pk": ("article_id", "position"),
         "foreign_keys": [("article_id", "articles", "id"), ("target_article_id", "articles", "id")]},
    ),
    "raw_files": (
        {"path": str, "sha256": str, "bytes": int, "mtime_ns": int, "encoding": str, "status": str,
         "article_id": str, "reason": str, "message": str},
        {"pk": "path", "foreign_keys": [("article_id", "articles", "id")]},
    ),
    # Every capture a web archive holds (response, resource and revisit
    # records), whatever it became: when (null when its date is not a
    # possible one), from which URL, in which record (raw_files.path =
    # FILE#OFFSET), with what payload; article_id when it is a capture of an
    # article. why: for an article's captures, which one it is shown from
    # ('shown') and why not the others (store.rank); for the rest, the reason.
    # archive…: where a backfill had it from (null for the crawl's own and
    # other files): the archive (ia, cc or a pywb collection's URL), its
    # capture's timestamp, its WARC file and offset, the address fetched.
    "captures": (
        {"article_id": str, "url": str, "captured": str, "path": str, "sha256": str, "payload_digest": str,
         "kind": str, "status": str, "why": str, "archive": str, "archive_timestamp": str, "archive_file": str,
         "archive_offset": int, "archive_uri": str},
        {"pk": "path",
         "foreign_keys": [("article_id", "articles", "id"), ("path", "raw_files", "path")]},
    ),
    # Every distinct text of an article across its pages (research/versions.py),
    # version 1 the earliest: when captures first and last had it, a page
    # holding it (path), and the diff from the version before, made by the
    # build (diff: JSON blocks; exact 0 when the time limit cut it short).
    "versions": (
        {"article_id": str, "version": int, "first_seen": str, "last_seen": str, "captures": int, "sha256": str,
         "chars_added": int, "chars_removed": int, "paragraphs_added": int, "paragraphs_removed": int,
         "paragraphs_moved": int, "exact": int, "path": str, "diff": str},
        {"pk": ("article_id", "version"), "foreign_keys": [("article_id", "articles", "id")]},
    ),
    # Which text (versions.sha256) each page of an article with more than
    # one holds, by the page's sha256 (captures.sha256, raw_files.sha256): a
    # revisit, which carries its original's sha256, counts for that text.
    "page_texts": (
        {"article_id": str, "sha256": str, "text_sha256": str},
        {"pk": ("article_id", "sha256"), "foreign_keys": [("article_id", "articles", "id")]},
    ),
    # Lexicon terms a version has fewer (removed) or more (added) of than the
    # version before it, and by how many occurrences.
    "version_terms": (
        {"article_id": str, "version": int, "term": str, "change": str, "occurrences": int},
        {"pk": ("article_id", "version", "term"), "foreign_keys": [("article_id", "articles", "id")]},
    ),
    # The WARC files read: what an incremental build compares, and the
    # checksum a researcher verifies a copy of the file against.
    "warc_files": (
        {"path": str, "bytes": int, "mtime_ns": int, "sha256": str, "records": int},
        {"pk": "path"},
    ),
    # Articles per day of the date trends count by (published, else
    # not_before; day null: undated). Articles are keyed in date order, so
    # each day's articles are one run of date_order: a period's articles
    # are a range of rowids, and a search's matches are counted per period
    # by their rowids alone (bannedbook/research/trends.py).
    "days": (
        {"day": str, "first_date_order": int, "last_date_order": int, "articles": int},
        {},
    ),
    # How many articles have each value of each facet of the articles table
    # (tags, author, source, category, year, script), over the whole archive:
    # counted once by the build (bannedbook/db/summaries.py) for the home page,
    # the top_tags query and the unfiltered table's facets. Values as text.
    "facet_counts": (
        {"facet": str, "value": str, "articles": int},
        {"pk": ("facet", "value")},
    ),
    # Articles and stories per month (published, else not_before), the same
    # way: for the home page's chart and articles_per_month without a search.
    "month_counts": (
        {"month": str, "articles": int, "stories": int},
        {"pk": "month"},
    ),
    # Researchers' lexicons (bannedbook/research/lexicon.py). lexicon also gets the
    # CSVs' other columns, after these.
    "lexicon": (
        {"term": str, "theme": str, "list": str, "articles": int, "hits": int},
        {},
    ),
    "article_terms": (
        {"article_id": str, "term": str, "hits": int},
        {"pk": ("article_id", "term"), "foreign_keys": [("article_id", "articles", "id")]},
    ),
    "themes": ({"theme": str, "terms": int, "articles": int}, {"pk": "theme"}),
    "lexicon_files": (
        {"path": str, "list": str, "sha256": str, "bytes": int, "encoding": str, "terms": int, "message": str},
        {},
    ),
}  # fmt: skip

# The story band index (bannedbook/db/storystore.py): one row per band of
# each comparable article's signature, (band key, article), so an
# incremental build finds a new article's candidates by lookup instead of
# banding every stored signature. WITHOUT ROWID: the key order is the
# table, about 30 bytes a row.
STORY_BANDS_SQL = """create table story_bands (key integer, article_id text, primary key (key, article_id))
                     without rowid"""

INDEXES = [
    ("articles", ["url"]), ("articles", ["author"]), ("articles", ["source"]),
    ("articles", ["category"]), ("articles", ["year"]), ("articles", ["published"]),
    ("article_tags", ["tag_id"]), ("links", ["url"]), ("links", ["target_article_id"]),
    ("links", ["kind"]), ("raw_files", ["status", "reason"]), ("raw_files", ["article_id"]),
    ("captures", ["article_id"]), ("captures", ["payload_digest"]), ("captures", ["url"]),
    ("versions", ["first_seen"]), ("version_terms", ["term", "change"]), ("articles", ["removed_before"]),
    ("lexicon", ["term"]), ("lexicon", ["theme", "term"]), ("article_terms", ["term", "hits"]),
    # A story's articles in date order (the article page's list), and one
    # article per story (?_collapse=1) read from the index alone.
    ("articles", ["story", "date_order"]),
    # A tag in any script: counts, the tag page and ?_tag= read the first
    # index alone, the tag facet (the tags of the matching articles) the second.
    ("tags", ["key"]), ("article_tags", ["tag_key", "tag_id", "article_id"]),
    ("article_tags", ["article_id", "tag_key"]),
]  # fmt: skip

# Search selects articles by date_order (see FTS_SQL). The wider index holds
# what the table page's facets read for every match of a search, and the
# partial one all that the most_cited query reads, so neither has to visit
# the wide article rows (docs/benchmarks.md has the figures).
INDEX_SQL = [
    "create unique index idx_articles_date_order on articles (date_order)",
    "create index idx_articles_facets on articles (date_order, id, author, source, category, year, script)",
    "create index idx_links_related on links (url, article_id, target_article_id, text) where kind = 'related'",
    # A facet's most common values first, without sorting them all.
    "create index idx_facet_counts_top on facet_counts (facet, articles desc, value)",
]


def columns(table: str) -> list[str]:
    """The table's columns in the order they are created."""
    return list(TABLES[table][0])


def insert_sql(table: str, target: str | None = None) -> str:
    """An INSERT of named parameters (:column) for every column of table,
    so rows are written as dicts by column name."""
    names = columns(table)
    return (f"insert into {target or f'[{table}]'} ({', '.join(f'[{c}]' for c in names)}) "
            f"values ({', '.join(f':{c}' for c in names)})")


# A tag's label where its spellings are counted as one (tags.key): the
# spelling most articles use (the first in code-point order among equals).
TAG_LABEL_SQL = """(select tag_id from article_tags spelled where spelled.tag_key = {key}
  group by tag_id order by count(*) desc, tag_id limit 1)"""


def tag_counts_sql(articles: str = "", top: int | None = None) -> str:
    """How many articles have each tag, its spellings counted as one:
    (value: its label, tag_key, count). articles: a select of the article
    ids to count among (every article when empty); top: keep only that many
    of the most common tags, before labelling them (each label is a lookup)."""
    where = f"where article_id in ({articles})" if articles else ""
    order = f"order by count desc, tag_key limit {top}" if top is not None else ""
    return f"""select {TAG_LABEL_SQL.format(key="counted.tag_key")} as value, counted.tag_key, counted.count
               from (select tag_key, count(distinct article_id) as count from article_tags {where}
                     group by tag_key {order}) counted"""


# Whether any article has the tag whose key is ? (normalised).
TAG_IN_USE_SQL = "select 1 from article_tags where tag_key = ? limit 1"


def tagged_sql(param: str) -> str:
    """A where clause: the article has the tag whose key (normalised) is :param."""
    return f"id in (select article_id from article_tags where tag_key = :{param})"


def theme_sql(param: str) -> str:
    """A where clause: the article holds a term of the lexicon theme :param."""
    return (f"id in (select article_id from article_terms where term in "
            f"(select term from lexicon where theme = :{param}))")
