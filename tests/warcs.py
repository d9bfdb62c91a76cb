"""WARC files of every shape the build must read, written with warcio (the
writer wget, Browsertrix and pywb share), around real pages (tests/pages.py)."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import brotli
from pages import CANONICAL, NO_ARTICLE, full_page, traditional
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SITE = "https://www.bannedbook.org"
MIRROR = CANONICAL.replace("/bnews/", "/bnews/zh-tw/")
# A page that states neither a canonical URL nor a date: both come from the capture.
HEADER_ONLY_URL = f"{SITE}/bnews/world/20240710/2060001.html"
UNDATED_URL = f"{SITE}/bnews/comments/2059011.html"
HEADER_ONLY = """<html><head><title>无声明编码的页面</title></head><body>
<h2>仅凭HTTP头得知编码的文章</h2>
<div class="entry"><p>作者：测试记者</p>
<p>这一页没有在网页里声明编码，只有服务器的回应头说明它是GBK编码。</p>
<p>第二段写道，二〇二四年七月的会议上各方再次讨论了上海合作组织的扩员问题。</p></div>
</body></html>"""


@dataclass
class Entry:
    """One record to write: a response unless kind says otherwise."""

    url: str
    body: bytes = b""
    status: str = "200 OK"
    content_type: str | None = "text/html; charset=utf-8"
    date: str = "2024-07-09T08:00:00Z"
    kind: str = "response"
    encoding: str | None = None  # Content-Encoding to store the body with
    extra: list[tuple[str, str]] | None = None  # more HTTP headers
    refers_to: Entry | None = None  # a revisit's original
    digest: str | None = None  # a revisit's payload digest, when its original is not in the same file


def write_warc(path: Path, entries: list[Entry], gz: bool | None = None) -> list[int]:
    """Write entries (each response with its request record, after a
    warcinfo record); returns the offset of each entry's record."""
    gz = path.name.endswith(".gz") if gz is None else gz
    path.parent.mkdir(parents=True, exist_ok=True)
    offsets = []
    digests: dict[int, str] = {}
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gz)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests/warcs.py",
                                                                      "format": "WARC File Format 1.1"}))
        for entry in entries:
            writer.write_record(writer.create_warc_record(
                entry.url, "request", payload=io.BytesIO(b""), warc_headers_dict={"WARC-Date": entry.date},
                http_headers=StatusAndHeaders(f"GET {entry.url} HTTP/1.1", [("Host", "www.bannedbook.org")],
                                              is_http_request=True)))
            offsets.append(handle.tell())
            record = _record(writer, entry, digests)
            writer.write_record(record)
            digests[id(entry)] = record.rec_headers.get_header("WARC-Payload-Digest")
    return offsets


def _record(writer: WARCWriter, entry: Entry, digests: dict[int, str]):
    headers = {"WARC-Date": entry.date}
    if entry.kind == "revisit":
        original = entry.refers_to
        digest = entry.digest or digests[id(original)]
        return writer.create_revisit_record(entry.url, digest, original.url, original.date,
                                            http_headers=StatusAndHeaders(entry.status, _headers(entry),
                                                                          protocol="HTTP/1.1"),
                                            warc_headers_dict=headers)
    if entry.kind == "resource":
        return writer.create_warc_record(entry.url, "resource", payload=io.BytesIO(entry.body),
                                         warc_content_type=entry.content_type, warc_headers_dict=headers)
    body = {"gzip": gzip.compress, "br": brotli.compress, None: bytes}[entry.encoding](entry.body)
    http = StatusAndHeaders(entry.status, _headers(entry) + [("Content-Length", str(len(body)))], protocol="HTTP/1.1")
    return writer.create_warc_record(entry.url, "response", payload=io.BytesIO(body), http_headers=http,
                                     warc_headers_dict=headers)


def _headers(entry: Entry) -> list[tuple[str, str]]:
    headers = [("Content-Type", entry.content_type)] if entry.content_type else []
    if entry.encoding:
        headers.append(("Content-Encoding", entry.encoding))
    return headers + (entry.extra or [])


def crawl_entries() -> dict[str, Entry]:
    """One capture of every kind a crawl of the site holds, by name."""
    header_only = Entry(HEADER_ONLY_URL + "?utm_source=feed&utm_medium=rss", HEADER_ONLY.encode("gbk"),
                        content_type="text/html; charset=GBK", date="2024-07-10T03:04:05Z")
    return {
        "article": Entry(CANONICAL, full_page().encode(), encoding="gzip"),
        "header-charset": header_only,
        "mirror": Entry(MIRROR, traditional(full_page(url=MIRROR)).encode(), date="2024-07-09T08:00:30Z"),
        "not-found": Entry(f"{SITE}/bnews/comments/20240708/404.html", b"<h1>Not Found</h1>", "404 Not Found"),
        "moved": Entry(f"{SITE}/bnews/old.html", b"", "301 Moved Permanently",
                       extra=[("Location", CANONICAL)]),
        "image": Entry(f"{SITE}/wp-content/uploads/photo.jpg", b"\xff\xd8\xff\xe0 not really a jpeg",
                       content_type="image/jpeg"),
        "listing": Entry(f"{SITE}/bnews/comments/", NO_ARTICLE.encode()),
        "revisit": Entry(HEADER_ONLY_URL, kind="revisit", date="2024-08-01T00:00:00Z", refers_to=header_only,
                         content_type="text/html; charset=GBK"),
        # Undated: neither the page nor its URL states a date.
        "brotli": Entry(UNDATED_URL, full_page(url=UNDATED_URL, published=None).encode(), encoding="br"),
        "resource": Entry(CANONICAL.replace("2059001", "2059012"),
                          full_page(url=CANONICAL.replace("2059001", "2059012")).encode(),
                          kind="resource", content_type="text/html"),
    }
