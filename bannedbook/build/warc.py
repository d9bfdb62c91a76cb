"""Web-archive input: every record of a WARC file (ISO 28500, WARC/0.17 to
1.1) or an ARC file (the Internet Archive's format before WARC), plain,
gzipped record by record (`.warc.gz` as crawlers write it) or gzipped whole
(`gzip -c x.warc`), read in one forward pass in bounded memory and time.

Naming. A record is named FILE#OFFSET. OFFSET is the file offset of the
gzip member the record starts, when it starts one (every record of a
record-by-record `.warc.gz`, as `warcio extract FILE OFFSET` and CDX
indexes name it); otherwise its offset in the decompressed stream (a plain
file: its file offset; a whole-file gzip: the offset after undoing the
gzip, read again by decompressing from the file's start). record_at reads a
record again by that name.

Every record is handed over, whatever its type: response, revisit and
resource records are the archive's inputs; warcinfo, request, metadata
(and an ARC file's header, as warcinfo) are handed over too, so that each
gets a row saying what it is. A dns: record is a response without HTTP.

Bounds. Nothing a file states is believed before it is spent: a header
line (WARC, ARC or HTTP) is at most LINE bytes and a header block at most
HEADERS, and a payload is read, with its transfer chunking and content
encodings (gzip, deflate, br) undone, to at most `limit` bytes (one more
says "too large"); the rest of the record is skipped, decompressed in
pieces, never held. A file is read in linear time, whatever it holds.

Damage. Reading goes on after damage: in a gzip file at the next gzip
member that starts a record, in a plain file at the next line that starts
one. A record begun but not whole is handed over with its problem; the
byte ranges of the file that were lost are raised at the end (Damaged).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import BinaryIO

import brotli

from bannedbook.text.dates import capture_date
from bannedbook.text.decode import safe_line

LINE = 64 * 1024  # the longest header line read (WARC, ARC or HTTP)
HEADERS = 1 << 20  # a record's WARC or HTTP headers together
CHUNK = 1 << 16  # bytes decoded at a time
GZIP_PIECE = 1 << 12  # gzip bytes decompressed at a time
GZIP_MAGIC = b"\x1f\x8b\x08"
FILLER = b" \t\r\n\x00"  # what separates records (and pads files' ends)
_WARC_LINE = re.compile(rb"WARC/\d+\.\d+\r?\n")
_HTTP_LINE = re.compile(rb"HTTP/\d(?:\.\d)? +(\d{3})(?:[ \t]|\r?\n|$)")


# WARC headers a backfill writes (bannedbook/crawl/backfill.py) → captures' columns.
PROVENANCE = {"archive-name": "archive", "archive-timestamp": "archive_timestamp",
              "archive-filename": "archive_file", "archive-offset": "archive_offset",
              "warc-source-uri": "archive_uri"}


@dataclass
class Record:
    """One record: what it is, where and when it was captured, and for a
    response or resource its payload, read (up to `limit` bytes) with its
    transfer and content encodings undone."""

    offset: int
    kind: str  # WARC-Type: response, revisit, resource, warcinfo, request, metadata …
    url: str | None
    captured: str | None  # WARC-Date as ISO 8601 UTC; None when missing or not believable (date_error)
    status: int | None  # HTTP status; None for a resource or a non-HTTP record
    media_type: str | None  # text/html, image/jpeg … (lower case, no parameters)
    charset: str | None  # from the HTTP (or resource) Content-Type
    payload: bytes | None  # None when over the limit, unread, or for a revisit
    payload_bytes: int  # the payload's length as read (limit + 1 when cut)
    payload_digest: str | None  # WARC-Payload-Digest as the file states it
    refers_to: tuple[str | None, str | None] = (None, None)  # a revisit's (URI, date)
    location: str | None = None  # where a redirect points
    problem: tuple[str, str] | None = None  # (reason, message): why the record cannot be read whole
    length: int = 0  # bytes of the file the record takes (compressed)
    http: bool = False  # whether the record holds an HTTP message
    date_error: str | None = None  # why WARC-Date was not believed
    notes: list[str] = field(default_factory=list)  # what was read otherwise than stated
    provenance: dict[str, str] = field(default_factory=dict)  # a backfilled record's archive (see PROVENANCE)


class Damaged(Exception):
    """Parts of a file that could not be read (each a byte range and why)."""

    def __init__(self, lost: list[str], reason: str = "damaged-warc"):
        shown = lost[:5] + ([f"and {len(lost) - 5} more"] if len(lost) > 5 else [])
        super().__init__("; ".join(shown))
        self.lost = lost
        self.reason = reason


class _Broken(Exception):
    """The gzip layer cannot go on at file offset `at`."""

    def __init__(self, at: int, reason: str, between: bool = False):
        super().__init__(reason)
        self.at, self.reason, self.between = at, reason, between  # between: not inside a member
        self.record: Record | None = None


class _Source:
    """The file's bytes, read forward in pieces, gzip members undone; knows
    where the current member starts in the file and in the decoded stream.
    A read stays inside the current member unless `span`: a record begun
    inside a member, or one whose member ends early and the next member
    does not start a record, runs on into the next member (as in a file
    gzipped in blocks, BGZF)."""

    def __init__(self, handle: BinaryIO, gz: bool, start: int = 0, sha256=None):
        self.handle, self.gz, self.sha256 = handle, gz, sha256
        self.read_at = start  # file offset of the handle
        self.hashed = start  # bytes of the file hashed so far
        self.file_end = False
        self.raw = b""  # file bytes read, not yet decoded
        self.raw_at = start  # file offset of raw[0]
        self.buf, self.i = bytearray(), 0  # decoded bytes; buf[i:] not yet consumed
        self.pos = 0  # decoded offset of buf[i]
        self.z = None  # the current member's decompressor; None between members
        self.member_start, self.member_pos = start, 0  # the member's file and decoded offsets
        self.span = False
        self.in_record = False  # between a record's first line and its end

    # ---------------------------------------------------------------- file

    def _read_raw(self) -> bool:
        if self.file_end:
            return False
        chunk = self.handle.read(CHUNK)
        if not chunk:
            self.file_end = True
            return False
        if self.sha256 is not None and self.read_at + len(chunk) > self.hashed:
            self.sha256.update(chunk[self.hashed - self.read_at:])
            self.hashed = self.read_at + len(chunk)
        self.read_at += len(chunk)
        self.raw += chunk
        return True

    def seek(self, offset: int) -> None:
        """Read the file again from offset (at most back to where the current member began)."""
        self.handle.seek(offset)
        self.read_at = self.raw_at = offset
        self.raw, self.file_end, self.z = b"", False, None
        self.pos += self.available()
        self.buf, self.i = bytearray(), 0

    def finish(self) -> None:
        """Hash the rest of the file."""
        while self._read_raw():
            self.raw = b""

    # -------------------------------------------------------------- members

    def open_member(self) -> bool:
        """Between members: skip zero padding and start the next member.
        False at the file's end; raises _Broken when what follows is not gzip."""
        while True:
            if len(self.raw) < len(GZIP_MAGIC) and self._read_raw():
                continue
            zeros = len(self.raw) - len(self.raw.lstrip(b"\x00"))
            self.raw_at += zeros
            self.raw = self.raw[zeros:]
            if not self.raw:
                if self._read_raw():
                    continue
                return False
            if not self.raw.startswith(GZIP_MAGIC):
                raise _Broken(self.raw_at, "not gzip data", between=True)
            self.z = zlib.decompressobj(31)
            self.member_start, self.member_pos = self.raw_at, self.pos + self.available()
            return True

    def resync(self, after: int) -> int | None:
        """After damage: the file offset of the next gzip member beyond
        `after` that starts a record (read from there on), else None (the
        rest of the file is lost)."""
        self.seek(after + 1)
        while True:
            found = self.raw.find(GZIP_MAGIC)
            if found < 0:
                keep = len(GZIP_MAGIC) - 1
                self.raw_at += max(0, len(self.raw) - keep)
                self.raw = self.raw[-keep:]
                if not self._read_raw():
                    self.raw_at += len(self.raw)
                    self.raw = b""
                    return None
                continue
            self.raw_at += found
            self.raw = self.raw[found:]
            while len(self.raw) < 4096 and self._read_raw():
                pass
            if _starts_record(self.raw[:4096]):
                self.open_member()
                return self.raw_at
            self.raw_at += 1
            self.raw = self.raw[1:]

    # ------------------------------------------------------------- decoding

    def available(self) -> int:
        return len(self.buf) - self.i

    def _more(self) -> bool:
        """Decode more into buf; False when the scope (member, or file) has ended."""
        if self.i > CHUNK and self.i * 2 > len(self.buf):
            del self.buf[: self.i]
            self.i = 0
        if not self.gz:
            if not self.raw and not self._read_raw():
                return False
            self.buf += self.raw
            self.raw_at += len(self.raw)
            self.raw = b""
            return True
        while True:
            if self.z is None:
                if not (self.span or self._runs_on()) or not self.open_member():
                    return False
            if not self.raw and not self._read_raw():
                raise _Broken(self.raw_at, "the file ends inside a gzip member (truncated)")
            # Small pieces in and out: zlib's error drops the output of the call that meets corrupt
            # data, so a piece is all that is lost of what came before it (a member's first piece
            # is smaller still, so the headers of the record it holds are read).
            piece = self.raw[: GZIP_PIECE]
            try:
                data = self.z.decompress(piece, 2048 if self.pos + self.available() == self.member_pos else CHUNK)
            except zlib.error as error:
                raise _Broken(self.raw_at, f"corrupt gzip data ({_reason(error)})") from None
            used = len(piece) - len(self.z.unused_data if self.z.eof else self.z.unconsumed_tail)
            self.raw_at += used
            self.raw = self.raw[used:]
            if self.z.eof:
                self.z = None
            if data:
                self.buf += data
                return True

    def _runs_on(self) -> bool:
        """At a member's end inside a record: whether the record goes on in
        the next member (which then does not start a record itself)."""
        if not self.in_record:
            return False
        while len(self.raw) < 4096 and self._read_raw():
            pass
        self.span = self.raw.startswith(GZIP_MAGIC) and not _starts_record(self.raw[:4096])
        return self.span

    def at_member_start(self) -> bool:
        return self.gz and self.pos == self.member_pos

    def _take(self, count: int) -> bytes:
        data = bytes(self.buf[self.i: self.i + count])
        self.i += len(data)
        self.pos += len(data)
        return data

    def read(self, count: int) -> bytes:
        while self.available() < count and self._more():
            pass
        return self._take(count)

    def skip(self, count: int) -> int:
        """Discard count bytes (fewer when the scope ends first); returns how many."""
        done = 0
        while done < count and (self.available() or self._more()):
            step = min(count - done, self.available())
            self.i += step
            self.pos += step
            done += step
        return done

    def peek_line(self, limit: int) -> bytes | None:
        """The next line with its newline (or what is left when the scope
        ends first; b"" at its end), not consumed; None when no newline
        comes within limit bytes."""
        scanned = 0
        while True:
            end = self.buf.find(b"\n", self.i + scanned, self.i + limit)
            if end >= 0:
                return bytes(self.buf[self.i: end + 1])
            scanned = min(self.available(), limit)
            if scanned >= limit:
                return None
            if not self._more():
                return bytes(self.buf[self.i:])

    def readline(self, limit: int) -> bytes | None:
        line = self.peek_line(limit)
        if line is not None:
            self._take(len(line))
        return line

    def skip_line(self) -> None:
        """Discard the rest of a line, however long (never holding it)."""
        while True:
            end = self.buf.find(b"\n", self.i)
            if end >= 0:
                self.skip(end + 1 - self.i)
                return
            self.skip(self.available())
            if not self._more():
                return

    def skip_filler(self) -> bool:
        """Skip what separates records; False when the scope ends first."""
        while True:
            window = bytes(self.buf[self.i: self.i + CHUNK])
            filler = len(window) - len(window.lstrip(FILLER))
            self.skip(filler)
            if filler < len(window):
                return True
            if not self.available() and not self._more():
                return False


class _Block:
    """A record's content block: Content-Length bytes of the source at most."""

    def __init__(self, source: _Source, length: int):
        self.source, self.left, self.length = source, length, length

    def read(self, count: int) -> bytes:
        data = self.source.read(min(count, self.left))
        self.left -= len(data)
        return data

    def readline(self, limit: int) -> bytes | None:
        """The next line of the block (without a newline when the block or
        the file ends inside it); None when it is longer than limit."""
        if not self.left:
            return b""
        line = self.source.peek_line(min(limit, self.left))
        if line is None:
            return None if self.left > limit else self.read(self.left)  # the block ends inside this line
        self.source._take(len(line))
        self.left -= len(line)
        return line

    def skip_rest(self) -> bool:
        """Skip what is left; False when the source ends first."""
        self.left -= self.source.skip(self.left)
        return self.left == 0


class _PayloadError(Exception):
    pass


class _Chunked:
    """Transfer-Encoding: chunked undone, chunk by chunk (a stated chunk
    size is never read at once). A payload that is not chunked after all
    (many writers store it de-chunked and keep the header) is read as stored."""

    def __init__(self, source: _Block):
        self.source, self.left, self.done, self.plain = source, 0, False, None
        self.started = False

    def read(self, count: int) -> bytes:
        if self.plain is not None:
            if self.plain:
                data, self.plain = self.plain[:count], self.plain[count:]
                return data
            return self.source.read(count)
        while not self.left and not self.done:
            line = self.source.readline(1024)
            if self.started and line in (b"\r\n", b"\n"):  # the CRLF that ends a chunk
                line = self.source.readline(1024)
            size = line.split(b";")[0].strip() if line else b""
            if not size or not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size):
                if not self.started:
                    self.plain = line or b""
                    return self.read(count)
                if not line:
                    raise _PayloadError("the chunked transfer encoding is cut short")
                raise _PayloadError("the chunked transfer encoding is broken")
            self.started = True
            self.left = int(size, 16)
            self.done = self.left == 0
        if self.done:
            return b""
        data = self.source.read(min(count, self.left))
        if not data:
            raise _PayloadError("the chunked transfer encoding is cut short")
        self.left -= len(data)
        return data


class _Decoded:
    """A Content-Encoding undone, never more than asked for at a time (a
    bomb of any ratio costs one piece). A payload that does not start as
    the encoding says is read as stored, and a note says so."""

    def __init__(self, source, encoding: str, notes: list[str]):
        self.source, self.encoding, self.notes = source, encoding, notes
        self.fed = b""  # what went in before any output, to read as stored
        self.plain: bytes | None = None
        self.out = False
        self.done = False
        self._start(encoding)

    def _start(self, encoding: str) -> None:
        if encoding == "br":
            self.z = brotli.Decompressor()
        else:
            self.z = zlib.decompressobj({"gzip": 31, "x-gzip": 31, "deflate": 15, "raw-deflate": -15}[encoding])
        self.pending = b""

    def read(self, count: int) -> bytes:
        while True:
            if self.plain is not None:
                if self.plain:
                    data, self.plain = self.plain[:count], self.plain[count:]
                    return data
                return self.source.read(count)
            if self.done:
                return b""
            data = self._step(count)
            if data:
                self.out = True
                return data

    def _step(self, count: int) -> bytes:
        try:
            if self.encoding == "br":
                if not self.z.can_accept_more_data():
                    return self.z.process(b"", output_buffer_limit=count)
                data = self.source.read(CHUNK)
                self._feed(data)
                out = self.z.process(data, output_buffer_limit=count)
                self.done = self.z.is_finished() or not data
            else:
                data = self.pending or self.source.read(CHUNK)
                if not self.pending:
                    self._feed(data)
                out = self.z.decompress(data, count)
                self.pending = self.z.unconsumed_tail
                self.done = self.z.eof or not data
            return out
        except (zlib.error, brotli.error) as error:
            if self.out:
                raise _PayloadError(f"the {self.encoding} content encoding is corrupt ({_reason(error)})") from None
            if self.encoding == "deflate":  # servers send raw deflate as often as zlib's
                self.encoding = "raw-deflate"
                self._start("raw-deflate")
                self.pending = self.fed
                return b""
            self.notes.append(f"stated Content-Encoding {self.encoding} but stored without it: read as stored")
            self.plain, self.done = self.fed, True
            return b""

    def _feed(self, data: bytes) -> None:
        if not self.out and len(self.fed) < 4 * CHUNK:
            self.fed += data


def _read_upto(source, limit: int) -> bytes:
    parts, size = [], 0
    while size <= limit:
        data = source.read(min(CHUNK, limit + 1 - size))
        if not data:
            break
        parts.append(data)
        size += len(data)
    return b"".join(parts)


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    message = Message()
    message["content-type"] = value
    media = message.get_content_type() if "/" in value.split(";")[0] else None
    charset = message.get_content_charset()
    return media, charset.lower() if charset else None


def _header_lines(source, what: str) -> tuple[dict[str, str], tuple[str, str] | None, bool]:
    """Header lines up to the blank line: ({lower-case name: value} (the
    first of each name), a too-large problem or None, whether the blank
    line came)."""
    headers: dict[str, str] = {}
    problem, total, last = None, 0, None
    while True:
        line = source.readline(LINE)
        if line is None:
            problem = ("too-large", f"{'an' if what == 'HTTP' else 'a'} {what} header line is over {LINE // 1024} KB")
            if isinstance(source, _Source):  # the line is skipped; the headers go on
                source.skip_line()
                continue
            return headers, problem, False
        if line in (b"\r\n", b"\n"):
            return headers, problem, True
        if not line.endswith(b"\n"):
            return headers, problem, False
        total += len(line)
        if total > HEADERS:
            problem = problem or ("too-large", f"the {what} headers are over {HEADERS >> 20} MB")
            continue
        text = line.decode("utf-8", "replace").strip()
        if line[:1] in (b" ", b"\t") and last:  # a folded line continues the one before
            headers[last] += " " + text
            continue
        name, colon, value = text.partition(":")
        if colon:
            last = name.strip().lower()
            headers.setdefault(last, value.strip())


def _arc_fields(line: bytes | None, arc: bool) -> tuple[str, str, str, int | None] | None:
    """(url, date, content type, length) of an ARC header line (version 1:
    URL IP DATE TYPE LENGTH; version 2: five more fields before LENGTH);
    length None when it is not a number."""
    if not line or not line.endswith(b"\n") or not (arc or line.startswith(b"filedesc:")):
        return None
    parts = line.strip().split(b" ")
    for fields in (10, 5):  # the URL itself may hold spaces
        if len(parts) >= fields and re.fullmatch(rb"\d{8,20}", parts[-fields + 2]):
            url = b" ".join(parts[: len(parts) - fields + 1]).decode("utf-8", "replace")
            if ":" in url:
                length = int(parts[-1]) if re.fullmatch(rb"\d{1,15}", parts[-1]) else None
                return url, parts[-fields + 2].decode(), parts[-fields + 3].decode("latin-1"), length
    return None


def _starts_record(data: bytes) -> bool:
    """Whether gzip data begins with a WARC or ARC record."""
    try:
        text = zlib.decompressobj(31).decompress(data, 2048).lstrip(b" \t\r\n\x00")
    except zlib.error:
        return False
    line = text[: text.find(b"\n") + 1]
    return bool(_WARC_LINE.fullmatch(line) or _arc_fields(line, True))


def _http_block(block: _Block, record: Record) -> dict[str, str] | None:
    """The HTTP status line and headers at the start of block, into record;
    the headers, or None when there is no HTTP message or they are too large."""
    line = block.readline(LINE)
    if line is None:
        record.problem = ("too-large", f"the HTTP status line is over {LINE // 1024} KB")
        return None
    match = _HTTP_LINE.match(line)
    if not match:
        return None
    record.http, record.status = True, int(match.group(1))
    headers, problem, _ = _header_lines(block, "HTTP")
    record.problem = problem
    return None if problem else headers


def _payload(block: _Block, headers: dict[str, str], record: Record, limit: int) -> None:
    source = block
    if "chunked" in headers.get("transfer-encoding", "").lower():
        source = _Chunked(source)
    encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",")]
    for encoding in reversed([e for e in encodings if e and e not in ("identity", "none")]):
        if encoding not in ("gzip", "x-gzip", "deflate", "br"):
            record.problem = ("unreadable", f"the payload is stored with Content-Encoding {safe_line(encoding)[:40]}, "
                                            "which the build does not undo")
            return
        source = _Decoded(source, encoding, record.notes)
    try:
        data = _read_upto(source, limit)
    except _PayloadError as error:
        record.problem = ("unreadable", f"the payload cannot be read: {error}")
        return
    record.payload_bytes = len(data)
    record.payload = data if len(data) <= limit else None


def _content(block: _Block, record: Record, warc_type: str | None, limit: int) -> None:
    """Read what the record's block holds into record."""
    scheme = (record.url or "").partition(":")[0].lower()
    if record.kind in ("response", "revisit") and (scheme in ("http", "https")
                                                   or (warc_type or "").startswith("application/http")):
        headers = _http_block(block, record)
        if headers is None:
            return
        record.media_type, record.charset = _content_type(headers.get("content-type"))
        record.location = headers.get("location")
        if record.kind == "response":
            _payload(block, headers, record, limit)
    elif record.kind in ("response", "resource"):
        record.media_type, record.charset = _content_type(warc_type)
        if record.kind == "resource" or scheme in ("http", "https", ""):
            _payload(block, {}, record, limit)


def _warc_record(source: _Source, offset: int, limit: int) -> tuple[Record, _Block | None]:
    source.readline(LINE)  # WARC/1.0
    headers, problem, whole = _header_lines(source, "WARC")
    url = headers.get("warc-target-uri", "").strip().strip("<>") or None
    captured, date_error = capture_date(headers.get("warc-date"))
    # The date a revisit refers to is compared with captures' normalised dates, so it is normalised the same way.
    refers_date = headers.get("warc-refers-to-date")
    refers_to = (headers.get("warc-refers-to-target-uri"), capture_date(refers_date)[0] or refers_date)
    record = Record(offset, (headers.get("warc-type") or "unknown").strip().lower(), url, captured, None, None, None,
                    None, 0, headers.get("warc-payload-digest"), refers_to, problem=problem, date_error=date_error)
    record.provenance = provenance(headers)
    length = headers.get("content-length", "").strip()
    if not whole:
        record.problem = problem or ("damaged-record", "the file ends inside this record's headers")
        return record, None
    if not re.fullmatch(r"\d{1,15}", length):
        record.problem = ("damaged-record", "the record states no valid Content-Length")
        return record, None
    block = _Block(source, int(length))
    if not problem:
        _content(block, record, headers.get("content-type"), limit)
    return record, block


def provenance(headers: dict[str, str]) -> dict[str, str]:
    """Where a record a backfill wrote came from (bannedbook/crawl/backfill.py
    names the headers): the archive, its capture's timestamp, its own WARC
    file and offset; each value one line, at most 2,000 characters."""
    found = {}
    for header, key in PROVENANCE.items():
        value = " ".join(headers.get(header, "").split())[:2000]
        if value:
            found[key] = value
    return found


def _arc_record(source: _Source, offset: int, limit: int) -> tuple[Record, _Block | None]:
    url, date, media, length = _arc_fields(source.readline(LINE), True)
    captured, date_error = capture_date(date, arc=True)
    kind = "warcinfo" if url.startswith("filedesc:") else "response"
    record = Record(offset, kind, url, captured, None, None, None, None, 0, None, date_error=date_error)
    if length is None:
        record.problem = ("damaged-record", "the record states no valid length")
        return record, None
    block = _Block(source, length)
    if kind == "response":
        _content(block, record, media if media not in ("-", "no-type") else None, limit)
    return record, block


def records(handle: BinaryIO, limit: int, digest: list | None = None, arc: bool = False) -> Iterator[Record]:
    """Every record of the WARC or ARC file open in handle, in file order.
    Raises Damaged after the last record when parts of the file could not
    be read. With digest (a list), the file's sha256 is appended to it once
    the file has been read, damaged or not. arc: the file is named as an
    ARC file (its records are recognised without its header)."""
    with handle:
        sha256 = hashlib.sha256()
        first = handle.read(2)
        handle.seek(0)
        source = _Source(handle, first == GZIP_MAGIC[:2], sha256=sha256)
        try:
            yield from _records(source, limit, arc, len(first))
        finally:
            if digest is not None:
                source.finish()
                digest.append(sha256.hexdigest())


def _records(source: _Source, limit: int, arc: bool, size: int) -> Iterator[Record]:
    lost: list[str] = []
    found = 0
    while True:
        before, fresh = source.raw_at, False
        try:
            if source.gz and source.z is None and not source.available():
                if not source.open_member():
                    break
            fresh = source.at_member_start()
            source.span = False
            if not source.skip_filler():
                if source.gz:
                    continue
                break
            offset = source.member_start if source.at_member_start() else source.pos
            line = source.peek_line(LINE)
            kind = "warc" if line and _WARC_LINE.fullmatch(line) else "arc" if _arc_fields(line, arc) else None
            if kind is None:
                _skip_to_record(source, arc, lost)
                continue
            arc = arc or kind == "arc"
            source.span = not source.at_member_start()
            source.in_record = True
            record, block = None, None
            try:
                record, block = (_warc_record if kind == "warc" else _arc_record)(source, offset, limit)
                if block is not None and not block.skip_rest():
                    _cut(source, record, block)
                    if source.file_end and not source.available():
                        lost.append(f"bytes {offset:,}–{source.raw_at:,}: the file ends inside the record at byte "
                                    f"{offset:,} (truncated)")
                elif block is None and record.problem[0] == "damaged-record":
                    if source.file_end and not source.available():
                        lost.append(f"bytes {offset:,}–{source.raw_at:,}: the file ends inside the headers of the "
                                    f"record at byte {offset:,} (truncated)")
                    elif not source.gz:
                        _skip_to_record(source, arc, lost)
                source.in_record = False
                if source.gz and record.offset == source.member_start and not source.span:
                    source.skip_filler()  # to the member's end: its checksum is checked before the record goes
            except _Broken as broken:
                # a record begun has its row, even when its headers are cut off
                broken.record = record or Record(offset, "unknown", None, None, None, None, None, None, 0, None)
                raise
            found += 1
            record.length = source.raw_at - before
            yield record
        except _Broken as broken:
            source.in_record = False
            start = broken.at if broken.between or not fresh else source.member_start
            if broken.record is None and fresh and not broken.between:  # a member whose first bytes are corrupt
                broken.record = Record(start, "unknown", None, None, None, None, None, None, 0, None)
            if broken.record is not None:
                found += 1
                broken.record.problem = ("damaged-record", f"the record cannot be read whole: {broken.reason}")
                yield broken.record
            resumed = source.resync(broken.at if broken.between else source.member_start)
            end = f"{resumed:,}" if resumed is not None else f"{source.raw_at:,} (the end)"
            lost.append(f"bytes {start:,}–{end}: {broken.reason}")
            if resumed is None:
                break
    if not found and not size:
        raise Damaged(["the file is empty"], "empty")
    if not found:
        lost = lost or ["the file holds only zero bytes or white space"]
        raise Damaged(["no WARC or ARC record in the file"] + lost, "not-a-warc")
    if lost:
        raise Damaged(lost)


def _cut(source: _Source, record: Record, block: _Block) -> None:
    read = block.length - block.left
    if source.file_end and not source.available():
        why = f"the file ends inside this record ({read:,} of its {block.length:,} bytes are there; truncated)"
    else:
        why = f"the record is cut short: its gzip member ends {block.left:,} bytes before its stated length"
    record.problem = ("damaged-record", why)
    record.payload, record.payload_bytes = None, 0


def _skip_to_record(source: _Source, arc: bool, lost: list[str]) -> None:
    """Skip what is not a record up to the next line that starts one (or
    the scope's end); adds to lost what was passed over."""
    start_file, start_pos = source.member_start, source.pos
    where = (f"from decompressed byte {start_pos:,} of the gzip member at byte {start_file:,}" if source.gz
             else f"from byte {start_pos:,}")
    try:
        while True:
            line = source.peek_line(LINE)
            if line is None:
                source.skip_line()
                continue
            if not line:
                break
            if source.pos != start_pos and (_WARC_LINE.fullmatch(line) or _arc_fields(line, arc)):
                break
            source.skip(len(line))
    except _Broken:
        lost.append(f"{where}: not a WARC or ARC record, up to where the gzip data breaks off")
        raise
    if source.gz:
        lost.append(f"{source.pos - start_pos:,} bytes {where}: not a WARC or ARC record")
    else:
        lost.append(f"bytes {start_pos:,}–{source.pos:,}: not a WARC or ARC record")


def record_at(handle: BinaryIO, offset: int, limit: int, arc: bool = False) -> Record:
    """The record named FILE#offset of the WARC or ARC file open in handle
    (see the module's docstring for what the offset counts)."""
    with handle:
        gz = handle.read(2) == GZIP_MAGIC[:2]
        if gz:
            handle.seek(offset)
            if handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC:
                handle.seek(offset)
                found = _first_record(_Source(handle, True, start=offset), offset, limit, arc)
                if found is not None:
                    return found
        handle.seek(0)
        source = _Source(handle, gz)
        source.span = True
        if gz and not source.open_member():
            raise Damaged([f"no record at byte {offset:,}"])
        if source.skip(offset) != offset:
            raise Damaged([f"no record at byte {offset:,}: the file is shorter"])
        found = _first_record(source, offset, limit, arc)
    if found is None:
        raise Damaged([f"no record at byte {offset:,}"])
    return found


def _first_record(source: _Source, offset: int, limit: int, arc: bool) -> Record | None:
    try:
        if source.gz and source.z is None and not source.available() and not source.open_member():
            return None
        line = source.peek_line(LINE)
        source.in_record = True
        if line and _WARC_LINE.fullmatch(line):
            record, block = _warc_record(source, offset, limit)
        elif _arc_fields(line, arc):
            record, block = _arc_record(source, offset, limit)
        else:
            return None
        if block is not None and not block.skip_rest():
            _cut(source, record, block)
        return record
    except _Broken as broken:
        raise Damaged([f"byte {broken.at:,}: {broken.reason}"]) from None


def _reason(error: Exception) -> str:
    text = safe_line(str(error))
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
