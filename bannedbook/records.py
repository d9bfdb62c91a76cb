"""What the build's reading hands its writer: an article as extracted, a
page as read (with its capture, when a web archive held it) and a web
archive file as read. Plain data below every layer, so the reader
(bannedbook/build/) and the writer (bannedbook/db/store.py) share them
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The records of a web archive that capture a URL and may be pages of the
# archive (raw_files says what each became; captures keeps when, from where
# and its payload digest); every other record type is described only.
CAPTURE_KINDS = ("response", "revisit", "resource")
# Where a backfilled capture came from (captures' columns of these names).
ARCHIVE_COLUMNS = ("archive", "archive_timestamp", "archive_file", "archive_offset", "archive_uri")


@dataclass
class Link:
    url: str
    text: str
    kind: str
    # The URL's scheme, lower case ("https", "javascript", "data", "mailto";
    # "" when it has none). Only http and https links may be made clickable.
    scheme: str = ""

    @property
    def web(self) -> bool:
        return self.scheme in ("http", "https")


@dataclass
class Paragraph:
    role: str  # body, subheading or caption
    text: str


@dataclass
class Article:
    title: str
    author: str | None = None
    source: str | None = None
    source_url: str | None = None
    url: str | None = None
    category: str | None = None
    site_number: int | None = None
    published: str | None = None
    not_before: str | None = None
    script: str = "simplified"
    paragraphs: list[Paragraph] = field(default_factory=list)
    tags: list[tuple[str, str | None]] = field(default_factory=list)  # (name, url if http(s))
    links: list[Link] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def body(self) -> str:
        """The article as read: sub-headings and paragraphs, captions left out."""
        return "\n".join(p.text for p in self.paragraphs if p.role != "caption")


@dataclass
class Capture:
    """Where and when a web archive captured a page."""

    url: str | None
    captured: str | None
    kind: str  # response, revisit or resource (or, for a skipped record, its type)
    payload_digest: str | None = None
    refers_to: tuple[str | None, str | None] = (None, None)  # a revisit's (URI, date)
    provenance: dict[str, str] = field(default_factory=dict)  # which web archive it was backfilled from, and where

    def archive_columns(self) -> dict[str, str | int | None]:
        """captures' archive… columns: null for a capture no backfill wrote."""
        found = {key: self.provenance.get(key) for key in ARCHIVE_COLUMNS}
        offset = found["archive_offset"]
        found["archive_offset"] = int(offset) if offset and offset.isdigit() and len(offset) < 19 else None
        return found


@dataclass
class Page:
    """What one input became, made in a worker process."""

    path: str
    sha256: str = ""
    size: int = 0
    encoding: str | None = None
    article: Article | None = None
    reason: str | None = None
    message: str | None = None
    mtime_ns: int | None = None
    capture: Capture | None = None
    signature: bytes | None = None  # the article's story signature (stories.signature of its body)
    text_sha256: str | None = None  # the hash versions compare its text by (versions.text_hash)
    skipped: bool = False  # a record that is not a capture of a page (warcinfo, request, metadata …)


@dataclass
class WarcFile:
    """A WARC file read to its end, or as far as it could be."""

    path: str
    size: int
    mtime_ns: int | None
    sha256: str | None
    records: int
    damage: str | None = None  # which byte ranges could not be read, and why
    reason: str = "damaged-warc"  # of the file's rejection when damaged (not-a-warc, empty)
