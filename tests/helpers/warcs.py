"""WARC files of every shape the build must read, written with warcio (the
writer wget, Browsertrix and pywb share), around real pages (tests/helpers/pages.py)."""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import brotli
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from helpers.pages import CANONICAL, NO_ARTICLE, full_page, traditional

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
    refers_date: str | None = None  # a revisit's WARC-Refers-To-Date, when not written as its original's date


def write_warc(path: Path, entries: list[Entry], gz: bool | None = None) -> list[int]:
    """Write entries (each response with its request record, after a
    warcinfo record); returns the offset of each entry's record."""
    gz = path.name.endswith(".gz") if gz is None else gz
    path.parent.mkdir(parents=True, exist_ok=True)
    offsets = []
    digests: dict[int, str] = {}
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gz)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests/helpers/warcs.py",
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
        return writer.create_revisit_record(entry.url, digest, original.url, entry.refers_date or original.date,
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


# ------------------------------------------------- records written by hand
# Every shape other tools write (WARC/0.17, 1.1, ARC, whole-file gzip, BGZF
# blocks, bombs) is made byte for byte here, so each test knows every
# record's offset.


def http_message(body: bytes, headers: list[tuple[str, str]] | None = None, status: str = "200 OK") -> bytes:
    """An HTTP response as a WARC response record's block holds it."""
    head = [f"HTTP/1.1 {status}"] + [f"{name}: {value}" for name, value in
                                      (headers if headers is not None else [("Content-Type", "text/html")])]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def warc_record(kind: str, url: str | None, block: bytes, version: str = "1.0", date: str = "2024-07-09T08:00:00Z",
                content_type: str | None = "application/http; msgtype=response",
                extra: list[tuple[str, str]] | None = None) -> bytes:
    """One WARC record, serialised as the standard has it since WARC/0.17."""
    headers = [("WARC-Type", kind), ("WARC-Record-ID", f"<urn:uuid:{hash((kind, url, block)) & (1 << 64) - 1:032x}>"),
               ("WARC-Date", date)]
    headers += [("WARC-Target-URI", url)] if url else []
    headers += [("Content-Type", content_type)] if content_type else []
    headers += (extra or []) + [("Content-Length", str(len(block)))]
    head = f"WARC/{version}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def warcinfo(version: str = "1.0") -> bytes:
    return warc_record("warcinfo", None, b"software: tests/helpers/warcs.py\r\nformat: WARC File Format\r\n", version,
                       content_type="application/warc-fields")


def arc_records(name: str, entries: list[tuple[str, str, str, bytes]]) -> list[bytes]:
    """An ARC file (version 1, as the Internet Archive wrote them): its
    header record, then one record per (url, 14-digit date, content type, block)."""
    fields = b"1 0 tests\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [f"filedesc://{name} 0.0.0.0 20080430204825 text/plain {len(fields)}\n".encode() + fields + b"\n"]
    for url, date, media, block in entries:
        records.append(f"{url} 192.0.2.1 {date} {media} {len(block)}\n".encode() + block + b"\n")
    return records


def write_records(path: Path, records: list[bytes], gz: str | None = None) -> list[int]:
    """Write records to path: plain, a gzip member per record (gz="record"),
    or the whole file gzipped at once (gz="file", as `gzip -c x.warc`).
    Returns each record's name offset: the file offset of its member, or
    for a plain or whole-file-gzipped file its offset in the plain bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    offsets, data = [], b""
    for record in records:
        offsets.append(len(data))
        data += gzip.compress(record) if gz == "record" else record
    path.write_bytes(gzip.compress(data) if gz == "file" else data)
    return offsets


def chunked(body: bytes, sizes: list[int]) -> bytes:
    """body in Transfer-Encoding: chunked, cut into chunks of these sizes (the rest in one more)."""
    out, start = b"", 0
    for size in sizes + [len(body)]:
        piece = body[start: start + size]
        if piece:
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        start += len(piece)
    return out + b"0\r\n\r\n"


# ------------------------------------------------------------------- bombs
# Hostile records: a few bytes on disk that state or decode to `size`
# bytes, each written in pieces (a benchmark writes them at gigabytes), each
# followed in its file by a genuine record. BOMBS names them.

BOMBS = ("brotli", "gzip", "deflate", "chunk", "header-line", "status-line", "zeros", "garbage")
PIECE = 1 << 20


def _repeat(byte: bytes, size: int):
    for start in range(0, size, PIECE):
        yield byte * min(PIECE, size - start)


def _compressed(pieces, encoding: str) -> bytes:
    if encoding == "br":
        compressor = brotli.Compressor(quality=5)
        return b"".join(compressor.process(piece) for piece in pieces) + compressor.finish()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    return b"".join(compressor.compress(piece) for piece in pieces) + compressor.flush()


def _record_pieces(kind: str, url: str, block_length: int, block, extra_header: tuple[str, int] | None = None):
    """A WARC record as pieces; extra_header: a header of that many bytes."""
    head = f"WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Date: 2024-07-09T08:00:00Z\r\nWARC-Target-URI: {url}\r\n"
    yield head.encode()
    if extra_header:
        yield f"{extra_header[0]}: ".encode()
        yield from _repeat(b"a", extra_header[1])
        yield b"\r\n"
    yield f"Content-Type: application/http; msgtype=response\r\nContent-Length: {block_length}\r\n\r\n".encode()
    yield from block
    yield b"\r\n\r\n"


def _member(handle, pieces) -> None:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    for piece in pieces:
        handle.write(compressor.compress(piece))
    handle.write(compressor.flush())


def write_bomb(path: Path, name: str, size: int, genuine: bytes) -> int:
    """Write the bomb `name` of `size` bytes to path (a gzip member per
    record, but zeros and garbage: plain), then the record genuine; returns
    the genuine record's offset."""
    url = f"{SITE}/bnews/bomb/{name}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        if name in ("zeros", "garbage"):  # a file that is no WARC: no newline in `size` bytes
            for piece in _repeat(b"\x00" if name == "zeros" else b"A", size):
                handle.write(piece)
            handle.write(b"" if name == "zeros" else b"\n")
            offset = handle.tell()
            handle.write(genuine)
            return offset
        if name in ("brotli", "gzip", "deflate"):
            encoding = {"brotli": "br", "gzip": "gzip", "deflate": "deflate"}[name]
            body = _compressed(_repeat(b" ", size), encoding)
            block = http_message(body, [("Content-Type", "text/html"), ("Content-Encoding", encoding)])
            pieces = _record_pieces("response", url, len(block), [block])
        elif name == "chunk":  # one chunk of `size` bytes
            head = http_message(f"{size:x}\r\n".encode(), [("Content-Type", "text/html"),
                                                          ("Transfer-Encoding", "chunked")])
            block = [head, *_repeat(b"\x00", size), b"\r\n0\r\n\r\n"]
            pieces = _record_pieces("response", url, len(head) + size + 7, block)
        elif name == "header-line":  # one WARC header line of `size` bytes
            block = http_message(b"<html></html>")
            pieces = _record_pieces("response", url, len(block), [block], ("X-Bomb", size))
        elif name == "status-line":  # an HTTP status line of `size` bytes, no newline
            pieces = _record_pieces("response", url, 13 + size, [b"HTTP/1.1 200 ", *_repeat(b"a", size)])
        else:
            raise ValueError(name)
        _member(handle, pieces)
        offset = handle.tell()
        handle.write(gzip.compress(genuine))
        return offset
