"""Fuzzing the build: whatever a crawl holds, no exception escapes, every file
ends as article, duplicate or rejected with a message a person can act on,
and nothing stored holds NUL, control or bidi-override characters.

`make test` runs a fixed set of examples per property (derandomized: the
same examples on every run, so a test fails because of the code, never of
the draw), enough that a crash planted in extraction is caught (see
fuzz()); `make fuzz` sets FUZZ_EXAMPLES high for a long run that draws new
examples each time.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT
from helpers.pages import CANONICAL, SEED, full_page, traditional, write_crawl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bannedbook.build import files as file_policy
from bannedbook.build.extract import extract
from bannedbook.build.pipeline import BuildReport, build, read_page
from bannedbook.errors import Rejected
from bannedbook.records import Article, Page
from bannedbook.text.decode import MAX_PAGE_BYTES, Decoded, decode

LONG_RUN = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def fuzz(examples: int, share_of_long_run: float = 1.0) -> settings:
    """examples for `make test`, drawn the same way on every run. The counts
    below were set by planting crashes in extraction (a title over 40
    characters, a date in an undated page's text, a caption before a
    sub-heading) and running with random seeds: each was caught in 8 runs of
    8. Under `make fuzz`: FUZZ_EXAMPLES (times share_of_long_run), random."""
    return settings(max_examples=max(3, int(LONG_RUN * share_of_long_run)) if LONG_RUN else examples,
                    derandomize=not LONG_RUN, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

STATUSES = {"article", "duplicate", "rejected"}
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

# Real pages in the shapes the crawl has, as bytes.
REAL_PAGES = [
    SEED.encode("utf-8"),
    full_page().encode("utf-8"),
    full_page("gb2312").encode("gb18030"),
    traditional(full_page("big5")).encode("big5", "xmlcharrefreplace"),
]


def assert_safe_article(article: Article) -> None:
    texts = [article.title, article.author, article.source, article.source_url, article.url,
             article.published, *(p.text for p in article.paragraphs), *(t for tag in article.tags for t in tag)]
    texts += [value for link in article.links for value in (link.url, link.text)]
    for text in filter(None, texts):
        assert not UNSAFE.search(text), repr(text)
    assert article.title.strip() and article.paragraphs
    for link in article.links:
        assert link.web == link.url.lower().startswith(("http://", "https://")), link
    for url in (article.url, article.source_url, *(url for _, url in article.tags)):
        assert url is None or url.lower().startswith(("http://", "https://")), url
    assert article.published is None or article.published[:4].isdigit()


def read(data: bytes, name: str = "page.html") -> Page:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, name)
        path.write_bytes(data)
        return read_page(path, Path(folder))


def assert_accounted(page: Page) -> None:
    """An article, or a rejection with a reason and a message. A crash of
    the extractor is caught by the build (a page must never stop it) but
    is a bug, never an answer."""
    if page.article is None:
        assert page.reason and page.message and len(page.message) > 10, page
        assert page.reason != "extraction-error", page.message
    else:
        assert page.reason is None
        assert_safe_article(page.article)


# Mutations of real pages: the ways a crawl breaks.


@st.composite
def mutated_page(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(REAL_PAGES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["truncate", "cut", "bytes", "nul", "bad-utf8", "gb18030", "unclose",
                                     "misnest", "repeat-tag", "controls"]))
        if kind == "truncate":
            del data[at:]
        elif kind == "cut":
            del data[at: at + draw(st.integers(1, 2000))]
        elif kind == "bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "nul":
            data[at:at] = b"\x00" * draw(st.integers(1, 8))
        elif kind == "bad-utf8":
            data[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe4\xb8", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"]))
        elif kind == "gb18030":  # another encoding spliced into the page
            data[at:at] = draw(st.text(min_size=1, max_size=20)).encode("gb18030")
        elif kind == "unclose":
            data = bytearray(re.sub(rb"</(p|div|a|h2|ul|li)>", b"", bytes(data), count=draw(st.integers(1, 50))))
        elif kind == "misnest":
            data[at:at] = draw(st.sampled_from([b"<b><i></b></i>", b"<p><div><p>", b"</div></div></div>",
                                                b"<a href='x'><a href='y'>", b"<table><p>", b"<!--", b"<![CDATA[",
                                                b"<script>", b"<style>", b"<textarea>", b"<h2>"]))
        elif kind == "repeat-tag":
            data[at:at] = draw(st.sampled_from([b"<div>", b"<span>", b"<p>", b"<b>", b"<li>"])) * draw(
                st.integers(1, 3000))
        else:
            data[at:at] = draw(st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Cs", "Co"]),
                                       min_size=1, max_size=8)).encode("utf-8", "surrogatepass")
    return bytes(data)


@fuzz(200)
@given(st.binary(max_size=5000))
def test_random_bytes_are_decoded_or_rejected(data):
    try:
        decoded = decode(data)
    except Rejected as rejected:
        assert rejected.reason and rejected.message
    else:
        assert isinstance(decoded, Decoded) and isinstance(decoded.text, str)


@fuzz(40)
@given(mutated_page())
def test_mutated_pages_are_articles_or_rejected(data):
    assert_accounted(read(data))


HTML_PIECES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["<h2>", "</h2>", '<div class="entry">', "</div>", "<p>", "</p>", "<a href='", "'>", "</a>",
                     '<a class="st_tag" href="', "<script>", "</script>", "<style>", "<iframe>", "<embed>",
                     "<title>", "<meta property='article:published_time' content='", "<link rel='canonical' href='",
                     "javascript:", "https://", "data:", "&#0;", "&#xD800;", "&#x202e;", "\x00", "<!--", "-->",
                     '<p class="src-info">来源：', "<p>作者：", "<figcaption>", "<h3>",
                     '<ul class="op-related-articles">',
                     "2024年7月8日", "/bnews/x/20240708/123.html", "9" * 30]),
)


@fuzz(600)
@given(st.lists(HTML_PIECES, max_size=60).map("".join))
def test_any_text_is_an_article_or_rejected(text):
    try:
        article = extract(text)
    except Rejected as rejected:
        assert rejected.reason == "no-article" and rejected.message
    else:
        assert_safe_article(article)


@fuzz(5, 1 / 8)
@given(st.lists(mutated_page(), min_size=1, max_size=4))
def test_builds_of_mutated_crawls_account_for_every_file(tmp_path_factory, pages):
    raw = write_crawl(tmp_path_factory.mktemp("raw"), {f"p{i}.html": data for i, data in enumerate(pages)})
    db = raw / "bannedbook.db"
    counts = build(raw, db, workers=1, progress=False)
    assert_database_accounts_for(db, counts, {f"p{i}.html" for i in range(len(pages))})


def assert_database_accounts_for(db: Path, report: BuildReport, paths: set[str]) -> None:
    conn = sqlite3.connect(db)
    rows = conn.execute("select path, status, message from raw_files").fetchall()
    assert {path for path, _, _ in rows} == paths
    assert {status for _, status, _ in rows} <= STATUSES
    assert all(message for _, status, message in rows if status == "rejected")
    assert conn.execute("select count(*) from raw_files where reason = 'extraction-error'").fetchone() == (0,)
    by_status = Counter(status for _, status, _ in rows)
    assert (by_status["article"], by_status["duplicate"], by_status["rejected"]) == (
        report.articles, report.duplicates, report.rejected)
    assert sum(report.rejected_by_reason.values()) == report.rejected
    for table, column in [("articles", "title"), ("articles", "body"), ("paragraphs", "text"),
                          ("links", "url"), ("links", "text"), ("tags", "name"), ("raw_files", "message")]:
        assert conn.execute(f"select count(*) from {table} where instr({column}, char(0))").fetchone() == (0,)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)


# The special files, all in one crawl.


@pytest.fixture(scope="module")
def nasty_crawl(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("nasty")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.html").write_bytes(full_page(url=CANONICAL.replace("2059001", "1")).encode())
    (outside / "folder").mkdir()
    (outside / "folder" / "hidden.html").write_bytes(full_page(url=CANONICAL.replace("2059001", "2")).encode())
    page = full_page()
    deep = page.replace('<div class="entry">', '<div class="entry">' + "<div>" * 10_000 + "<p>深处的一段。</p>")
    raw = write_crawl(root / "raw", {
        "ok.html": page.encode(),
        "empty.html": b"",
        "blank.txt": b" \n\t ",
        "deep.html": full_page(url=CANONICAL.replace("2059001", "3"), fragment=SEED).replace(
            '<div class="entry">', '<div class="entry">' + "<div>" * 10_000).encode(),
        "deep-mixed.html": deep.replace(CANONICAL, CANONICAL.replace("2059001", "4")).encode(),
        "giant-attribute.html": page.replace(CANONICAL, CANONICAL.replace("2059001", "5")).replace(
            '<div class="entry">', '<div class="entry" title="' + "x" * 3_000_000 + '">').encode(),
        "nul.html": page.replace(CANONICAL, CANONICAL.replace("2059001", "6")).replace("中共", "中\x00共").encode(),
        "bad-utf8.html": page.replace(CANONICAL, CANONICAL.replace("2059001", "7")).encode().replace(
            "哈萨克斯坦".encode(), b"\xff\xfe\xc3"),
        "mixed-encodings.html": page.replace(CANONICAL, CANONICAL.replace("2059001", "8")).encode()[:6000]
        + traditional(page).encode("big5", "xmlcharrefreplace")[6000:],
        "random.htm": os.urandom(3000),
        "unclosed.html": re.sub(r"</(p|div|li|ul|span|b|h2|figure)>", "",
                                page.replace(CANONICAL, CANONICAL.replace("2059001", "9"))).encode(),
        "名字.html".encode("gbk").decode("utf-8", "surrogateescape"): SEED.encode(),
    })
    (raw / "huge.html").write_bytes(page.encode() + b"<p>" + b"x" * (20 * 2**20) + b"</p>")
    (raw / "folder.html").mkdir()
    (raw / "folder.html" / "inside.txt").write_bytes(SEED.encode())
    (raw / "link-out.html").symlink_to(outside / "secret.html")
    (raw / "link-out-folder").symlink_to(outside / "folder")
    (raw / "link-broken.html").symlink_to(raw / "nowhere.html")
    (raw / "zz-link-in.html").symlink_to(raw / "ok.html")  # after ok.html
    os.mkfifo(raw / "fifo.html")
    locked = raw / "locked.html"
    locked.write_bytes(page.replace(CANONICAL, CANONICAL.replace("2059001", "10")).encode())
    locked.chmod(0)
    return raw, root / "bannedbook.db"


EXPECTED = {  # path: (status, a word the message must hold, or None)
    "ok.html": ("article", None),
    "empty.html": ("rejected", "empty"),
    "blank.txt": ("rejected", "white space"),
    "deep.html": ("article", None),
    "deep-mixed.html": ("article", None),
    "giant-attribute.html": ("article", None),
    "nul.html": ("article", "NUL"),
    "bad-utf8.html": ("article", "U+FFFD"),
    "random.htm": ("rejected", None),
    "unclosed.html": ("article", None),
    "huge.html": ("rejected", "MB"),
    "folder.html": ("rejected", "folder"),
    # The same page as the GBK-named file, whose name (shown as \xNN) sorts first.
    "folder.html/inside.txt": ("duplicate", "same article as \\xc3"),
    "link-out.html": ("rejected", "outside the raw folder"),
    "link-out-folder": ("rejected", "outside the raw folder"),
    "link-broken.html": ("rejected", "does not exist"),
    "zz-link-in.html": ("duplicate", "same article as ok.html"),
    "fifo.html": ("rejected", "not a regular file"),
}


def test_every_special_file_is_recorded(nasty_crawl):
    raw, db = nasty_crawl
    result = subprocess.run([sys.executable, "build_db.py", str(raw), str(db)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {path: (status, message) for path, status, message in
            sqlite3.connect(db).execute("select path, status, message from raw_files")}
    for path, (status, word) in EXPECTED.items():
        assert rows[path][0] == status, (path, rows[path])
        assert word is None or word in (rows[path][1] or ""), (path, rows[path])
    assert rows["mixed-encodings.html"][0] in STATUSES
    assert rows["locked.html"][0] == ("article" if os.geteuid() == 0 else "rejected")  # root reads anything
    gbk_name = "名字.html".encode("gbk").decode("utf-8", "backslashreplace")
    assert rows[gbk_name][0] == "article" and "not UTF-8" in rows[gbk_name][1]
    # Nothing was read from outside raw.
    assert not [path for path in rows if "hidden" in path or "secret" in path]
    urls = {url for (url,) in sqlite3.connect(db).execute("select url from articles")}
    assert not urls & {CANONICAL.replace("2059001", "1"), CANONICAL.replace("2059001", "2")}
    # The summary counts rejections by reason, as the database has them.
    totals = {name: int(n.replace(",", "")) for name, n in
              re.findall(r"^  (articles|duplicates|rejected)\s+([\d,]+)$", result.stdout, re.M)}
    reasons = {name: int(n.replace(",", "")) for name, n in re.findall(r"^    (\S+)\s+([\d,]+)$", result.stdout, re.M)}
    assert reasons["symlink"] == 3 and reasons["not-a-file"] == 2 and reasons["too-large"] == 1
    assert_database_accounts_for(db, BuildReport(**totals, rejected_by_reason=reasons), set(rows))
    assert MAX_PAGE_BYTES < (raw / "huge.html").stat().st_size


def test_a_folder_that_cannot_be_read_is_recorded(tmp_path, monkeypatch):
    raw = write_crawl(tmp_path / "raw", {"a/page.html": SEED.encode()})
    real_walk = os.walk

    def walk(top, onerror=None, **kwargs):  # as root, chmod cannot make a folder unreadable
        for folder, folders, files in real_walk(top, onerror=onerror, **kwargs):
            if folder.endswith("/a"):
                onerror(PermissionError(13, "Permission denied", folder))
                continue
            yield folder, folders, files

    monkeypatch.setattr(file_policy.os, "walk", walk)
    assert [p.name for p in file_policy.find_pages(raw)] == ["a"]


def test_a_file_that_cannot_be_read_is_rejected(tmp_path, monkeypatch):
    raw = write_crawl(tmp_path / "raw", {"locked.html": SEED.encode()})

    def refuse(path, flags):  # as root, chmod cannot make a file unreadable
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr("bannedbook.build.files.os.open", refuse)
    page = read_page(raw / "locked.html", raw)
    assert (page.reason, page.message) == ("unreadable", "cannot read the file: Permission denied")
