"""Bytes to text: crawled pages come as UTF-8, GBK/GB18030 or Big5, with or
without a declared charset. A page we cannot read with confidence is
rejected with a reason rather than stored as mojibake."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

from bannedbook.errors import Rejected

# A bannedbook page is tens of kilobytes; parsing time and memory grow with
# the size in each build worker, so far bigger files are recorded, not read
# (and the crawler does not fetch them whole).
MAX_PAGE_BYTES = 8_000_000


@dataclass
class Decoded:
    text: str
    encoding: str
    warning: str | None = None


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# <meta charset="gbk"> or <meta http-equiv="Content-Type" content="text/html; charset=big5">
_DECLARED = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)

# Sites declare the narrow legacy names but write their supersets: a page
# labelled gb2312 uses GBK characters, one labelled big5 uses cp950's.
_SUPERSETS = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "x-gbk": ("gb18030",),
    "gb18030": ("gb18030",),
    "big5": ("cp950", "big5hkscs"),
    "big5-hkscs": ("big5hkscs",),
    "cp950": ("cp950", "big5hkscs"),
    "utf8": ("utf-8",),
    "utf-8": ("utf-8",),
}

# Detection is only asked about the encodings this archive's sources use.
_WESTERN_DEFAULTS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii"}
_CANDIDATES = ["utf_8", "gb18030", "big5", "cp950", "big5hkscs", "utf_16", "utf_32"]
_MAX_CHAOS = 0.2


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares in its first few kilobytes, lower-cased."""
    match = _DECLARED.search(data[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def _codecs_for(label: str) -> tuple[str, ...]:
    if label in _SUPERSETS:
        return _SUPERSETS[label]
    try:
        return (codecs.lookup(label).name,)
    except LookupError:
        return ()


def _strict(data: bytes, encodings: tuple[str, ...]) -> Decoded | None:
    for encoding in encodings:
        try:
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError as error:
            # A crawl cut short mid-character: keep what is whole.
            if error.start >= len(data) - 4 and error.end == len(data):
                try:
                    text = data[: error.start].decode(encoding)
                except UnicodeDecodeError:
                    continue
                return Decoded(text, encoding, "the file ends in the middle of a character (truncated?)")
    return None


def _mostly_utf8(data: bytes) -> Decoded | None:
    """UTF-8 with a few corrupt bytes: keep the page, replace the bad bytes
    with U+FFFD and say so. Guessing another encoding would garble it all."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    non_ascii = sum(1 for char in text if ord(char) > 127)
    # Text in another encoding read as UTF-8 is mostly bad sequences; a UTF-8
    # page with a corrupt stretch is mostly good ones.
    if 0 < bad <= max(8, non_ascii // 20):
        return Decoded(text, "utf-8", f"{bad} invalid UTF-8 byte sequence(s) replaced with U+FFFD")
    return None


def _detect(data: bytes) -> Decoded | None:
    best = charset_normalizer.from_bytes(data, cp_isolation=_CANDIDATES).best()
    if best is None or best.chaos > _MAX_CHAOS:
        return None
    return Decoded(str(best), codecs.lookup(best.encoding).name)


# C0 control characters but tab, newline, form feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f]")


def _looks_binary(text: str) -> bool:
    return len(_CONTROL.findall(text)) > max(2, len(text) // 100)


def decode(data: bytes, http_charset: str | None = None) -> Decoded:
    """Decode a crawled page: BOM, then the charset the page declares (else
    the one its HTTP response gave, when it came from a web archive), then
    UTF-8, then detection among the Chinese encodings. Raises Rejected when
    unsure."""
    if not data.strip():
        raise Rejected("empty", "the file is empty" if not data else "the file holds only white space")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            decoded = _strict(data, (encoding,))
            if decoded is None:
                raise Rejected("undecodable", f"starts with a {encoding} byte-order mark but is not valid {encoding}")
            return _checked(decoded)
    declared = declared_charset(data)
    served = (http_charset or "").strip().lower()
    # Servers that say nothing better send ISO-8859-1 by default; any byte
    # is valid Latin-1, so believing them would store a Chinese page as
    # mojibake without a warning.
    label = declared or (served if served not in _WESTERN_DEFAULTS else None)
    said = f"declares charset {label}" if declared else f"is served as charset {label}"
    if label:
        encodings = _codecs_for(label)
        decoded = _strict(data, encodings) if encodings else None
        if decoded:
            return _checked(decoded)
        detected = _strict(data, ("utf-8",)) or _mostly_utf8(data) or _detect(data)
        if detected is None:
            raise Rejected("undecodable", f"{said} but is not valid {label}, nor any other we read")
        if not detected.warning:
            detected.warning = f"{said} but is {detected.encoding}"
        return _checked(detected)
    decoded = _strict(data, ("utf-8",)) or _mostly_utf8(data) or _detect(data)
    if decoded is None:
        raise Rejected("undecodable", "not UTF-8, GB18030 or Big5 text (binary or corrupt data?)")
    return _checked(decoded)


def _checked(decoded: Decoded) -> Decoded:
    if _looks_binary(decoded.text):
        raise Rejected("binary", f"decodes as {decoded.encoding} but is full of control characters: not a text page")
    nuls = decoded.text.count("\x00")
    if nuls:
        decoded.text = decoded.text.replace("\x00", "\ufffd")
        note = f"{nuls} NUL byte(s) in the text replaced with U+FFFD"
        decoded.warning = f"{decoded.warning}; {note}" if decoded.warning else note
    return decoded


# Never stored: NUL (SQLite's C API and many tools stop at it), other C0
# controls and DEL (invisible noise), lone surrogates (not encodable), and
# the bidirectional embeddings, overrides and isolates that make a title
# display as something other than what it says (U+202E "gpj.exe").
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_line(text: str) -> str:
    """text as one line of printable characters (a reader's error text may hold NULs and newlines)."""
    return "".join(char if char.isprintable() else " " for char in text).strip()


def safe_text(text: str) -> tuple[str, int]:
    """text without the characters above (lone surrogates become U+FFFD);
    also how many were removed or replaced."""
    removed = 0

    def drop(match: re.Match) -> str:
        nonlocal removed
        removed += 1
        return "\ufffd" if "\ud800" <= match.group() <= "\udfff" else ""

    return _UNSAFE_CHARS.sub(drop, text), removed
