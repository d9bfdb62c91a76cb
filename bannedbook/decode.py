"""Bytes to text: crawled pages come as UTF-8, GBK/GB18030 or Big5, with or
without a declared charset. A page we cannot read with confidence is
rejected with a reason rather than stored as mojibake."""

from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer


class Rejected(Exception):
    """A file that cannot become an article. `reason` is a short key the build
    summary counts by; the message tells a person what is wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


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


def decode(data: bytes) -> Decoded:
    """Decode a crawled page: BOM, then the declared charset, then UTF-8, then
    detection among the Chinese encodings. Raises Rejected when unsure."""
    if not data.strip():
        raise Rejected("empty", "the file is empty" if not data else "the file holds only white space")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            decoded = _strict(data, (encoding,))
            if decoded is None:
                raise Rejected("undecodable", f"starts with a {encoding} byte-order mark but is not valid {encoding}")
            return _checked(decoded)
    label = declared_charset(data)
    if label:
        encodings = _codecs_for(label)
        decoded = _strict(data, encodings) if encodings else None
        if decoded:
            return _checked(decoded)
        detected = _strict(data, ("utf-8",)) or _mostly_utf8(data) or _detect(data)
        if detected is None:
            raise Rejected("undecodable", f"declares charset {label} but is not valid {label}, nor any other we read")
        if not detected.warning:
            detected.warning = f"declares charset {label} but is {detected.encoding}"
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


# A bannedbook page is tens of kilobytes; parsing costs about 3 s and 60 MB
# of memory per megabyte, in each worker. Bigger files are recorded, not read.
MAX_PAGE_BYTES = 8_000_000

# Never stored: NUL (SQLite's C API and many tools stop at it), other C0
# controls and DEL (invisible noise), lone surrogates (not encodable), and
# the bidirectional embeddings, overrides and isolates that make a title
# display as something other than what it says (U+202E "gpj.exe").
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def safe_text(text: str) -> tuple[str, int]:
    """text without the characters above (lone surrogates become U+FFFD);
    also how many were removed or replaced."""
    removed = 0

    def drop(match: re.Match) -> str:
        nonlocal removed
        removed += 1
        return "\ufffd" if "\ud800" <= match.group() <= "\udfff" else ""

    return _UNSAFE_CHARS.sub(drop, text), removed


def file_name(path: Path, raw: Path) -> str:
    """path relative to raw as text. A name that is not UTF-8 (a GBK name
    from a Windows crawl) keeps its bytes visible as \\xNN escapes."""
    relative = os.fsencode(path.relative_to(raw).as_posix())
    return relative.decode("utf-8", errors="backslashreplace")


def read_file(path: Path, raw: Path) -> bytes:
    """The bytes of a crawled file. Raises Rejected for anything that is not
    a regular file of a sane size inside raw: symlinks out of raw are never
    followed, and a FIFO is never opened (reading it would hang the build)."""
    try:
        if path.is_symlink():
            target = Path(os.path.realpath(path))
            if not target.is_relative_to(os.path.realpath(raw)):
                raise Rejected("symlink", f"symlink to {target}, outside the raw folder: not followed")
            if not target.exists():
                raise Rejected("symlink", f"symlink to {target}, which does not exist")
            if not target.is_file():
                raise Rejected("symlink", "symlink to a folder: not followed (its files are read where they are)")
            path = target
        info = os.stat(path, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if not os.access(path, os.R_OK | os.X_OK):
                raise Rejected("unreadable", "a folder we may not open (permission denied): its files were not read")
            raise Rejected("not-a-file", "a folder named like a page, not a file (its files are read on their own)")
        if not stat.S_ISREG(info.st_mode):
            raise Rejected("not-a-file", "not a regular file (a pipe, socket or device): not read")
        if info.st_size > MAX_PAGE_BYTES:
            raise Rejected("too-large", f"the file is {info.st_size / 1e6:.1f} MB; pages over "
                                        f"{MAX_PAGE_BYTES / 1e6:.0f} MB are not read (a page is usually under 0.2 MB)")
        # O_NOFOLLOW: the file cannot be swapped for a symlink after the checks.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            return handle.read(MAX_PAGE_BYTES + 1)
    except OSError as error:
        raise Rejected("unreadable", f"cannot read the file: {error.strerror or error}") from None
