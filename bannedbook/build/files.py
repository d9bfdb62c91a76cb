"""Which files a build reads and how: the whole file-reading policy.

What counts as an input (pages by suffix, and WARC files, at any depth
under the raw folder), how an input is named in raw_files (its path under
raw, non-UTF-8 names kept visible; a WARC record as FILE#OFFSET), in which
order inputs are written, what is never read (symlinks out of raw or into
folders, pipes, devices, pages over the size limit), and the size and mtime
an incremental build compares.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from bannedbook.errors import Rejected
from bannedbook.text.decode import MAX_PAGE_BYTES

PAGE_SUFFIXES = {".txt", ".htm", ".html"}
# Web archives, read record by record (bannedbook/build/warc.py): WARC files and
# the Internet Archive's older ARC files, plain or gzipped.
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
ARC_SUFFIXES = (".arc", ".arc.gz")
_PAGE_ENDINGS = tuple(PAGE_SUFFIXES)  # as Path.suffix reads them: a name that is only ".html" has none



def file_name(path: Path, raw: Path) -> str:
    """path relative to raw as text. A name that is not UTF-8 (a GBK name
    from a Windows crawl) keeps its bytes visible as \\xNN escapes."""
    relative = os.fsencode(path.relative_to(raw).as_posix())
    return relative.decode("utf-8", errors="backslashreplace")


def open_file(path: Path, raw: Path, limit: int | None = MAX_PAGE_BYTES) -> BinaryIO:
    """A crawled file opened for reading. Raises Rejected for anything that
    is not a regular file inside raw (of at most limit bytes): symlinks out
    of raw are never followed, and a FIFO is never opened (reading it would
    hang the build)."""
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
        if limit is not None and info.st_size > limit:
            raise Rejected("too-large", f"the file is {info.st_size / 1e6:.1f} MB; pages over "
                                        f"{limit / 1e6:.0f} MB are not read (a page is usually under 0.2 MB)")
        # O_NOFOLLOW: the file cannot be swapped for a symlink after the checks.
        return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
    except OSError as error:
        raise Rejected("unreadable", f"cannot read the file: {error.strerror or error}") from None


def read_file(path: Path, raw: Path) -> bytes:
    """The bytes of a crawled page (see open_file)."""
    with open_file(path, raw) as handle:
        try:
            return handle.read(MAX_PAGE_BYTES + 1)
        except OSError as error:
            raise Rejected("unreadable", f"cannot read the file: {error.strerror or error}") from None


def find_pages(raw: Path) -> list[Path]:
    """find_inputs(raw)'s paths, in the order of their names."""
    return list(find_inputs(raw).values())


def find_inputs(raw: Path) -> dict[str, Path]:
    """Everything under raw named like a page or a WARC file, plus what the build cannot
    enter: symlinks to folders (never followed, so a crawl cannot pull in
    files from outside raw) and folders it may not list, by their names
    (file_name) in text order. read_file says what each one is; none is
    skipped silently."""
    found: dict[str, Path] = {}
    root = os.fspath(raw)

    def add(folder: str, name: str) -> None:
        path = Path(folder, name)
        found[file_name(path, raw)] = path

    def unlistable(error: OSError) -> None:
        if error.filename and Path(error.filename) != raw:
            folder, name = os.path.split(error.filename)
            add(folder, name)

    for folder, folders, files in os.walk(root, onerror=unlistable):  # does not follow symlinks
        # Names are made from text (a Path per file costs seconds at 100,000 files).
        prefix = folder[len(root):].lstrip(os.sep).replace(os.sep, "/")
        prefix = f"{prefix}/" if prefix else ""
        for name in files:
            if _named_like_input(name):
                relative = prefix + name
                if relative.isascii():
                    found[relative] = Path(folder, name)
                else:  # a name that is not UTF-8 keeps its bytes visible, as file_name writes it
                    add(folder, name)
        for name in folders:
            if _named_like_input(name) or os.path.islink(os.path.join(folder, name)):
                add(folder, name)
    return dict(sorted(found.items()))


def _named_like_input(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(WARC_SUFFIXES) or lower.endswith(_PAGE_ENDINGS) and lower not in PAGE_SUFFIXES


def file_state(path: Path) -> tuple[int, int] | None:
    """(size, mtime_ns): what an incremental build compares first; None when
    the file cannot be stat'ed."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def file_sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def is_warc(name: str) -> bool:
    """Whether name is a web-archive file (WARC or ARC), read record by record."""
    return name.lower().endswith(WARC_SUFFIXES)


def is_arc(name: str) -> bool:
    return name.lower().endswith(ARC_SUFFIXES)


def record_name(file: str, offset: int) -> str:
    """The raw_files name of the WARC or ARC record at offset in file
    (what the offset counts: bannedbook/build/warc.py)."""
    return f"{file}#{offset}"


def split_name(name: str) -> tuple[str, int | None]:
    """(file, offset) of a raw_files name; offset None for a whole file."""
    file, mark, offset = name.rpartition("#")
    if mark and offset.isdigit() and is_warc(file):
        return file, int(offset)
    return name, None


def order(name: str) -> tuple[str, int]:
    """Inputs are written in this order: by file name, a WARC's records in
    file order (as text, #1000 would sort before #200)."""
    file, offset = split_name(name)
    return file, -1 if offset is None else offset
