"""Web-archive input: the records of a WARC file (ISO 28500), as written by
wget --warc-file, Browsertrix, Heritrix, Webrecorder, Common Crawl and the
Internet Archive, read with warcio, one record at a time.

A record is named FILE#OFFSET, its byte offset in the file, so a researcher
can open it with any WARC tool (`warcio extract FILE OFFSET`). Only
response, revisit and resource records are inputs of the archive; warcinfo,
request and metadata records describe them and are skipped.

A damaged or truncated file keeps every record before the damage; the
caller hears where and why reading stopped (Damaged).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import BinaryIO

import brotli
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.limitreader import LimitReader

KINDS = ("response", "revisit", "resource")


@dataclass
class Record:
    """One response, revisit or resource record, its payload read (up to
    `limit` bytes) and its content encoding undone."""

    offset: int
    kind: str
    url: str | None
    captured: str | None  # WARC-Date, ISO 8601
    status: int | None  # HTTP status; None for a resource record
    media_type: str | None  # text/html, image/jpeg … (lower case, no parameters)
    charset: str | None  # from the HTTP (or resource) Content-Type
    payload: bytes | None  # None when over the limit, or for a revisit
    payload_bytes: int  # the payload's length as read (limit + 1 when cut)
    payload_digest: str | None  # WARC-Payload-Digest as the file states it
    refers_to: tuple[str | None, str | None] = (None, None)  # a revisit's (URI, date)
    location: str | None = None  # where a redirect points
    error: str | None = None  # the payload could not be read (bad content encoding…)
    length: int = 0  # bytes of the file the record takes (compressed)


class Damaged(Exception):
    """A WARC file that cannot be read to its end."""

    def __init__(self, offset: int, reason: str):
        super().__init__(f"stopped reading at byte {offset:,}: {reason}")
        self.offset = offset
        self.reason = reason


class _Hashing(io.RawIOBase):
    """A file read through this is hashed as it goes (a WARC is read once)."""

    def __init__(self, handle):
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.handle.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
            self.position += count
        return count

    def tell(self) -> int:
        return self.position


class _Brotli:
    """Content-Encoding: br. warcio expects the old brotlipy interface
    (decompress, unused_data); the brotli package now offers process()."""

    unused_data = None

    def __init__(self):
        self.decompressor = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self.decompressor.process(data)


BufferedReader.DECOMPRESSORS["br"] = _Brotli


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    message = Message()
    message["content-type"] = value
    media = message.get_content_type() if "/" in value.split(";")[0] else None
    charset = message.get_content_charset()
    return media, charset.lower() if charset else None


def _record(record, offset: int, limit: int) -> Record:
    headers = record.rec_headers
    http = record.http_headers
    kind = record.rec_type
    media, charset = _content_type(http.get_header("content-type") if http else headers.get_header("content-type"))
    status = None
    if http is not None and kind != "resource":
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            status = None
    payload, size, error = None, 0, None
    if kind != "revisit":
        try:
            data = record.content_stream().read(limit + 1)
        except Exception as failure:  # a payload that claims an encoding it does not have, cut chunks …
            data, error = b"", f"the payload cannot be read: {type(failure).__name__}: {failure}"
        size = len(data)
        payload = data if size <= limit and error is None else None
    return Record(
        offset=offset,
        kind=kind,
        url=headers.get_header("WARC-Target-URI"),
        captured=headers.get_header("WARC-Date"),
        status=status,
        media_type=media,
        charset=charset,
        payload=payload,
        payload_bytes=size,
        payload_digest=headers.get_header("WARC-Payload-Digest"),
        refers_to=(headers.get_header("WARC-Refers-To-Target-URI"), headers.get_header("WARC-Refers-To-Date")),
        location=http.get_header("location") if http else None,
        error=error,
    )


def records(handle: BinaryIO, limit: int, digest: list | None = None) -> Iterator[Record]:
    """Every response, revisit and resource record of the WARC file open in
    handle, in file order. Raises Damaged after the last whole record when
    the file is damaged or cut short. With digest (a list), the file's
    sha256 is appended to it once the file has been read, damaged or not."""
    with handle:
        stream = _Hashing(handle)
        try:
            yield from _records(stream, os.fstat(handle.fileno()).st_size, limit)
        finally:
            if digest is not None:
                while stream.read(1 << 20):  # the rest of a damaged file
                    pass
                digest.append(stream.sha256.hexdigest())


def _records(stream: _Hashing, size: int, limit: int) -> Iterator[Record]:
    iterator = ArchiveIterator(io.BufferedReader(stream, 1 << 16))
    offset = 0
    try:
        for record in iterator:
            offset = iterator.offset
            if not record.rec_type or record.rec_headers.get_header("Content-Length") is None:
                # warcio makes a record of whatever headers a cut file ends with
                raise Damaged(offset, "the file ends or is damaged inside this record's headers")
            found = _record(record, offset, limit) if record.rec_type in KINDS else None
            iterator.read_to_end()
            if _cut_short(record):
                raise Damaged(offset, "the file ends inside this record (truncated?)")
            if found is not None:
                found.length = iterator.offset - offset
                yield found
            offset = iterator.offset
        if offset < size:
            # warcio stops without a word at a record whose headers are cut off
            raise Damaged(offset, "the file ends inside a record's headers (truncated?)")
    except Damaged:
        raise
    except ArchiveLoadFailed as error:
        raise Damaged(offset, f"no valid WARC record here ({_reason(error)})") from None
    except (AttributeError, EOFError, IndexError):  # how warcio meets a record cut inside its headers
        raise Damaged(offset, "the file ends or is damaged inside this record's headers") from None
    except Exception as error:  # zlib.error … whatever else a broken file makes warcio raise
        raise Damaged(offset, f"the record cannot be read, the file is damaged ({_reason(error)})") from None


def record_at(handle: BinaryIO, offset: int, limit: int) -> Record:
    """The record at offset (as named FILE#OFFSET) of the WARC file open in handle."""
    with handle:
        handle.seek(offset)
        try:
            for record in ArchiveIterator(handle):
                return _record(record, offset, limit)
        except Exception as error:
            raise Damaged(offset, _reason(error)) from None
    raise Damaged(offset, "no record at this offset")


def _cut_short(record) -> bool:
    """Whether the file ended before the record's Content-Length was read
    (warcio hands over what there is without a word)."""
    stream = record.raw_stream
    while stream is not None:
        if isinstance(stream, LimitReader):
            return stream.limit > 0
        stream = getattr(stream, "stream", None)
    return False


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
