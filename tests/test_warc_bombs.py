"""Hostile web archives, in sizes a test can afford: payloads that decode
far beyond the page limit (brotli, gzip, deflate, one huge chunk), header
and status lines without end, files that are no WARC. Each bomb is
rejected too-large (or the file not-a-warc) and the genuine record after
it is kept. Memory and time at full size: benchmarks/bombs_bench.py."""

import sqlite3

import pytest
from helpers.pages import CANONICAL, full_page
from helpers.warcs import BOMBS, http_message, warc_record, write_bomb

from bannedbook.build.pipeline import build
from bannedbook.build.warc import LINE
from bannedbook.text.decode import MAX_PAGE_BYTES


def url(n: int) -> str:
    return CANONICAL.replace("2059001", str(2059200 + n))


def genuine(n: int) -> bytes:
    return warc_record("response", url(n), http_message(full_page(url=url(n)).encode()))


@pytest.fixture(scope="module")
def bombed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    offsets = {}
    for n, name in enumerate(BOMBS):
        # Past the page limit for payloads, past the line limit for lines; a few MB of plain bytes.
        size = MAX_PAGE_BYTES + 1_000_000 if name in ("brotli", "gzip", "deflate", "chunk") else 4 * LINE
        suffix = ".warc" if name in ("zeros", "garbage") else ".warc.gz"
        offsets[name] = write_bomb(folder / "raw" / f"{name}{suffix}", name, size if suffix != ".warc" else 3_000_000,
                                   genuine(n))
    build(folder / "raw", folder / "x.db", workers=2, progress=False)
    with sqlite3.connect(folder / "x.db") as conn:
        rows = {path: (status, reason, message) for path, status, reason, message in
                conn.execute("select path, status, reason, message from raw_files")}
    return rows, offsets


@pytest.mark.parametrize("name", ["brotli", "gzip", "deflate", "chunk", "header-line", "status-line"])
def test_a_bomb_is_too_large_and_the_next_record_is_kept(bombed, name):
    rows, offsets = bombed
    assert rows[f"{name}.warc.gz#0"][:2] == ("rejected", "too-large")
    assert rows[f"{name}.warc.gz#{offsets[name]}"][:2] == ("article", None)
    assert f"{name}.warc.gz" not in rows  # nothing of the file was lost


def test_the_messages_say_what_was_too_large(bombed):
    rows, _ = bombed
    assert "over 8 MB once decoded" in rows["brotli.warc.gz#0"][2]
    assert rows["header-line.warc.gz#0"][2] == "a WARC header line is over 64 KB"
    assert rows["status-line.warc.gz#0"][2] == "the HTTP status line is over 64 KB"


def test_files_that_are_no_warc_are_passed_over(bombed):
    rows, offsets = bombed
    assert rows[f"zeros.warc#{offsets['zeros']}"][:2] == ("article", None)
    assert "zeros.warc" not in rows  # zeros pad, they hold nothing to lose
    assert rows[f"garbage.warc#{offsets['garbage']}"][:2] == ("article", None)
    assert rows["garbage.warc"] == ("rejected", "damaged-warc", f"bytes 0–{offsets['garbage']:,}: not a WARC or ARC "
                                                                "record; 1 record(s) read, each with its own row")


def test_an_http_header_line_without_end(tmp_path):
    bomb = warc_record("response", url(90), http_message(b"<html></html>", [("X-Bomb", "a" * 2 * LINE)]))
    offset = len(bomb)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "x.warc").write_bytes(bomb + genuine(91))
    build(tmp_path / "raw", tmp_path / "x.db", workers=1, progress=False)
    with sqlite3.connect(tmp_path / "x.db") as conn:
        rows = {path: (reason, message) for path, reason, message in
                conn.execute("select path, coalesce(reason, status), message from raw_files")}
    assert rows == {"x.warc#0": ("too-large", "an HTTP header line is over 64 KB"),
                    f"x.warc#{offset}": ("article", None)}
