"""Web archives as other tools write them: WARC/0.17 and 1.1, ARC and
ARC.gz, a whole-file gzip, chunked transfer cut inside characters, files
of warcinfo, request, metadata and dns: records only, a damaged gzip member
with intact records after it, trailing zeros, strange dates. Every record
of every file gets exactly one raw_files row."""

import gzip
import shutil
import sqlite3
from pathlib import Path

import pytest
from helpers.pages import CANONICAL, full_page
from helpers.snapshot import content
from helpers.warcs import arc_records, chunked, http_message, warc_record, warcinfo, write_records

from bannedbook.build.pipeline import build
from bannedbook.build.warc import record_at
from bannedbook.text.dates import capture_date


def url(n: int) -> str:
    return CANONICAL.replace("2059001", str(2059100 + n))


def page(n: int) -> bytes:
    return full_page(url=url(n)).encode()


def response(n: int, version: str = "1.0", date: str = "2024-07-09T08:00:00Z", block: bytes | None = None) -> bytes:
    return warc_record("response", url(n), block if block is not None else http_message(page(n)), version, date)


DNS = b"20240709080000\nwww.bannedbook.org.\t300\tIN\tA\t192.0.2.1\n"
TITLE = "杨威：中共能挖动哈萨克斯坦和上合组织吗？"


def write_raw(raw: Path) -> dict:
    facts = {}
    whole = [warcinfo(), warc_record("request", url(1), b"GET / HTTP/1.1\r\n\r\n",
                                     content_type="application/http; msgtype=request"), response(1), response(2)]
    facts["whole"] = write_records(raw / "whole.warc.gz", whole, gz="file")
    facts["plain-whole"] = write_records(raw / "zz-plain" / "whole.warc", whole)
    facts["old"] = write_records(raw / "old.warc", [warcinfo("0.17"), response(3, "0.17")])
    facts["new"] = write_records(raw / "new.warc.gz", [warcinfo("1.1"),
                                                       response(4, "1.1", "2024-07-09T08:00:00.123456Z")], gz="record")
    arc = arc_records("crawl.arc", [("dns:www.bannedbook.org", "20240709075959", "text/dns", DNS),
                                    (url(5), "20240709080000", "text/html", http_message(page(5))),
                                    (url(5) + ".txt", "20240709080001", "text/plain",
                                     http_message(b"plain text", [("Content-Type", "text/plain")]))])
    facts["arc"] = write_records(raw / "crawl.arc", arc)
    facts["arc.gz"] = write_records(raw / "crawl.arc.gz", arc_records("crawl.arc.gz", [
        (url(6), "20240709080000", "text/html", http_message(page(6)))]), gz="record")
    body = page(7)
    first = body.index("杨".encode())
    split = chunked(body, [first + 1, 2, 1, 500, 1])  # cuts inside 杨 (3 bytes) and the characters after it
    gzipped = chunked(gzip.compress(page(8)), [10, 7])
    facts["chunked"] = write_records(raw / "chunked.warc", [
        response(7, block=http_message(split, [("Content-Type", "text/html; charset=utf-8"),
                                               ("Transfer-Encoding", "chunked")])),
        response(8, block=http_message(gzipped, [("Content-Type", "text/html"), ("Content-Encoding", "gzip"),
                                                  ("Transfer-Encoding", "chunked")]))])
    facts["dns"] = write_records(raw / "dns-only.warc", [
        warcinfo(), warc_record("response", "dns:www.bannedbook.org", DNS, content_type="text/dns")])
    facts["info"] = write_records(raw / "info-only.warc.gz", [
        warcinfo(), warc_record("request", url(9), b"GET / HTTP/1.1\r\n\r\n"),
        warc_record("metadata", url(9), b"outlinks: none\r\n", content_type="application/warc-fields")], gz="record")
    path = raw / "flipped.warc.gz"
    facts["flipped"] = offsets = write_records(path, [warcinfo()] + [response(n) for n in range(10, 15)], gz="record")
    data = bytearray(path.read_bytes())
    middle = (offsets[3] + offsets[4]) // 2  # inside the member of the third response
    data[middle: middle + 64] = bytes(b ^ 0x5A for b in data[middle: middle + 64])
    path.write_bytes(bytes(data))
    facts["zeros"] = write_records(raw / "zeros.warc", [warcinfo(), response(15)])
    facts["zeros.gz"] = write_records(raw / "zeros.warc.gz", [warcinfo(), response(23)], gz="record")
    for name in ("zeros.warc", "zeros.warc.gz"):
        with open(raw / name, "ab") as handle:
            handle.write(bytes(4096))
    every = [warcinfo(), warc_record("request", url(16), b"GET / HTTP/1.1\r\n\r\n"), response(16),
             warc_record("metadata", url(16), b"via: x\r\n", content_type="application/warc-fields"),
             warc_record("resource", url(17), page(17), content_type="text/html"),
             warc_record("revisit", url(16), http_message(b""), extra=[("WARC-Payload-Digest", "sha1:XYZ")]),
             warc_record("conversion", url(16), b"converted", content_type="text/plain"),
             warc_record("continuation", url(16), b"more", content_type=None),
             warc_record("x-custom", url(16), b"?", content_type=None)]
    facts["every"] = write_records(raw / "every.warc", every)
    (raw / "empty.warc").write_bytes(b"")
    (raw / "text.warc").write_bytes(b"this is not a web archive\n" * 1000)
    facts["dates"] = write_records(raw / "dates.warc", [
        response(18, date="!!!! not a date"), response(19, date="9999-12-31T00:00:00Z"),
        response(20, date="1970-01-01T00:00:00Z"), response(21, date="2024-02-30T00:00:00Z"),
        response(22, block=http_message(page(22), [("Content-Type", "text/html"),
                                                    ("Content-Encoding", "x-\x00evil\x1b[2J")]))])
    return facts


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    facts = write_raw(folder / "raw")
    build(folder / "raw", folder / "x.db", workers=2, progress=False)
    return folder / "raw", folder / "x.db", facts


def rows(db: Path, file: str) -> dict:
    """offset (None for the file's own row) -> (status, reason, message) of file's rows."""
    with sqlite3.connect(db) as conn:
        found = conn.execute("select path, status, reason, message from raw_files where path = ? or path like ?",
                             [file, f"{file}#%"]).fetchall()
    return {int(path.rpartition("#")[2]) if "#" in path else None: tuple(rest) for path, *rest in found}


def statuses(db: Path, file: str) -> dict:
    return {offset: tuple(row[:2]) for offset, row in rows(db, file).items()}


def query(db: Path, sql: str, params=()) -> list:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_a_whole_file_gzip_is_read_like_the_plain_file(built):
    raw, db, facts = built
    assert facts["whole"] == facts["plain-whole"]  # named by offsets in the plain bytes
    expected = {0: ("skipped", "warcinfo"), facts["whole"][1]: ("skipped", "request"),
                facts["whole"][2]: ("article", None), facts["whole"][3]: ("article", None)}
    assert statuses(db, "whole.warc.gz") == expected
    assert statuses(db, "zz-plain/whole.warc") == {offset: (s if s != "article" else "duplicate", r)
                                                for offset, (s, r) in expected.items()}
    # Each record can be read again by its name (as an incremental build does).
    for offset, kind in zip(facts["whole"], ["warcinfo", "request", "response", "response"], strict=True):
        record = record_at(open(raw / "whole.warc.gz", "rb"), offset, 8_000_000)
        assert (record.offset, record.kind) == (offset, kind)
    assert record.url == url(2) and record.payload == page(2)


def test_warc_0_17_and_1_1(built):
    _, db, facts = built
    assert statuses(db, "old.warc") == {0: ("skipped", "warcinfo"), facts["old"][1]: ("article", None)}
    assert statuses(db, "new.warc.gz") == {0: ("skipped", "warcinfo"), facts["new"][1]: ("article", None)}
    assert query(db, "select captured from captures where url = ?", [url(4)]) == [("2024-07-09T08:00:00.123456Z",)]


def test_arc_and_arc_gz_files(built):
    _, db, facts = built
    header, dns, html, text = facts["arc"]
    assert statuses(db, "crawl.arc") == {header: ("skipped", "warcinfo"), dns: ("rejected", "dns"),
                                         html: ("article", None), text: ("rejected", "text/plain")}
    assert "DNS lookup (dns:www.bannedbook.org)" in rows(db, "crawl.arc")[dns][2]
    assert query(db, "select title, captured from articles where url = ?", [url(5)]) == [
        (TITLE, "2024-07-09T08:00:00Z")]
    assert statuses(db, "crawl.arc.gz") == {0: ("skipped", "warcinfo"), facts["arc.gz"][1]: ("article", None)}


def test_chunks_cut_inside_characters_and_gzip_inside_chunks(built):
    _, db, _ = built
    for n in (7, 8):
        (title, body), = query(db, "select title, body from articles where url = ?", [url(n)])
        assert title == TITLE and "哈萨克斯坦" in body and "\ufffd" not in body + title


def test_files_of_records_that_are_not_pages(built):
    _, db, facts = built
    assert statuses(db, "dns-only.warc") == {0: ("skipped", "warcinfo"), facts["dns"][1]: ("rejected", "dns")}
    info = rows(db, "info-only.warc.gz")
    assert {offset: tuple(row[:2]) for offset, row in info.items()} == {
        0: ("skipped", "warcinfo"), facts["info"][1]: ("skipped", "request"), facts["info"][2]: ("skipped", "metadata")}
    assert info[facts["info"][1]][2].startswith("request record: the HTTP request the crawler sent")


def test_every_record_of_every_type_has_one_row(built):
    _, db, facts = built
    found = statuses(db, "every.warc")
    assert set(found) == set(facts["every"])
    kinds = ["warcinfo", "request", "response", "metadata", "resource", "revisit", "conversion", "continuation",
             "x-custom"]
    by_kind = dict(zip(kinds, facts["every"], strict=True))
    for kind in ("warcinfo", "request", "metadata", "conversion", "continuation", "x-custom"):
        assert found[by_kind[kind]] == ("skipped", kind)
    assert found[by_kind["response"]] == found[by_kind["resource"]] == ("article", None)
    assert found[by_kind["revisit"]][0] in ("duplicate", "rejected")


def test_a_damaged_gzip_member_loses_only_itself(built):
    _, db, facts = built
    offsets = facts["flipped"]
    found = rows(db, "flipped.warc.gz")
    assert {offset: tuple(row[:2]) for offset, row in found.items()} == {
        0: ("skipped", "warcinfo"), offsets[1]: ("article", None), offsets[2]: ("article", None),
        offsets[3]: ("rejected", "damaged-record"), offsets[4]: ("article", None), offsets[5]: ("article", None),
        None: ("rejected", "damaged-warc")}
    # Exactly the damaged member is lost, and the file is not called truncated.
    message = found[None][2]
    assert message.startswith(f"bytes {offsets[3]:,}–{offsets[4]:,}: ") and "truncated" not in message
    assert "gzip" in found[offsets[3]][2]


def test_trailing_zeros_are_padding(built):
    _, db, facts = built
    for name, offsets in (("zeros.warc", facts["zeros"]), ("zeros.warc.gz", facts["zeros.gz"])):
        assert statuses(db, name) == {0: ("skipped", "warcinfo"), offsets[1]: ("article", None)}


def test_an_empty_file_and_one_that_is_no_web_archive(built):
    _, db, _ = built
    assert statuses(db, "empty.warc") == {None: ("rejected", "empty")}
    ((status, reason, message),) = rows(db, "text.warc").values()
    assert (status, reason) == ("rejected", "not-a-warc")
    assert message.startswith("no WARC or ARC record in the file; bytes 0–26,000: not a WARC or ARC record")


def test_capture_dates_are_believed_only_when_they_can_be_true(built):
    _, db, facts = built
    for n, offset in zip(range(18, 22), facts["dates"], strict=False):
        assert query(db, "select captured from articles where url = ?", [url(n)]) == [(None,)]
        assert query(db, "select captured from captures where url = ?", [url(n)]) == [(None,)]
        assert "capture time unknown" in rows(db, "dates.warc")[offset][2]
    assert capture_date("2024-07-09T10:00:00+02:00") == ("2024-07-09T08:00:00Z", None)
    assert capture_date("20240709080000", arc=True) == ("2024-07-09T08:00:00Z", None)
    for value in ("!!!! not a date", "9999-12-31T00:00:00Z", "1990-12-31T23:59:59Z", "2024-13-01T00:00:00Z", None):
        assert capture_date(value)[0] is None and capture_date(value)[1]


def test_stored_text_is_one_printable_line(built):
    _, db, facts = built
    (reason, message), = [row[1:] for offset, row in rows(db, "dates.warc").items() if offset == facts["dates"][4]]
    assert reason == "unreadable" and "Content-Encoding x-" in message
    for (text,) in query(db, "select coalesce(reason, '') || ' ' || coalesce(message, '') from raw_files"):
        assert text.isprintable() and "None" not in text, text


def test_an_incremental_build_reads_records_of_a_whole_file_gzip_again(built, tmp_path):
    raw, db, _ = built
    shutil.copytree(raw, tmp_path / "raw")
    shutil.copy(db, tmp_path / "x.db")
    # A later capture of an article the whole-file gzip holds: its record is read again by offset.
    write_records(tmp_path / "raw" / "later.warc", [response(2, date="2024-09-01T00:00:00Z")])
    counts = build(tmp_path / "raw", tmp_path / "x.db", workers=2, progress=False)
    assert counts.read < 10  # not a full build
    build(tmp_path / "raw", tmp_path / "full.db", workers=2, progress=False, full=True)
    assert content(tmp_path / "x.db") == content(tmp_path / "full.db")
    assert query(tmp_path / "x.db", "select captured from captures where url = ? order by captured", [url(2)]) == [
        ("2024-07-09T08:00:00Z",), ("2024-07-09T08:00:00Z",), ("2024-09-01T00:00:00Z",)]


def test_gzip_members_that_cut_records_and_garbage_between_records(tmp_path):
    records = [warcinfo()] + [response(n) for n in range(30, 34)]
    plain = b"".join(records)
    # Gzipped in blocks, each its own member, as BGZF does: records run on from member to member,
    # whether they start inside a member (blocks of 4 KB) or at one (each record cut in two members).
    blocks = tmp_path / "raw" / "blocks.warc.gz"
    blocks.parent.mkdir()
    blocks.write_bytes(b"".join(gzip.compress(plain[i: i + 4096]) for i in range(0, len(plain), 4096)))
    halves = b"".join(gzip.compress(part) for record in records
                      for part in (record[: len(record) // 2], record[len(record) // 2:]))
    (tmp_path / "raw" / "halves.warc.gz").write_bytes(halves)
    # A plain file with bytes that are no record between two records.
    offsets = write_records(tmp_path / "raw" / "garbage.warc", records[:3])
    with open(tmp_path / "raw" / "garbage.warc", "ab") as handle:
        handle.write(b"\x01\x02 not a record\r\n" * 50)
        garbage_end = handle.tell()
        handle.write(records[3] + records[4])
    # An ARC file with version 2 header lines (as Heritrix wrote them).
    fields = b"2 0 tests\nURL IP-address Archive-date Content-type Result-code Checksum Location Offset Filename " \
             b"Archive-length\n"
    block = http_message(page(34))
    v2 = [f"filedesc://v2.arc 0.0.0.0 20080430204825 text/plain 200 - - 0 v2.arc {len(fields)}\n".encode() + fields,
          f"{url(34)} 192.0.2.1 20240709080000 text/html 200 ABCD - 0 v2.arc {len(block)}\n".encode() + block]
    arc = write_records(tmp_path / "raw" / "v2.arc", [record + b"\n" for record in v2])
    build(tmp_path / "raw", tmp_path / "x.db", workers=1, progress=False)
    db = tmp_path / "x.db"
    blocks_rows = statuses(db, "blocks.warc.gz")
    assert sorted(status for status, _ in blocks_rows.values()) == ["article"] * 4 + ["skipped"]
    assert query(db, "select count(*) from articles where url in (?, ?, ?, ?)", [url(n) for n in range(30, 34)]) == [
        (4,)]
    assert sorted(status for status, _ in statuses(db, "halves.warc.gz").values()) == ["duplicate"] * 4 + ["skipped"]
    found = rows(db, "garbage.warc")
    assert found[None][:2] == ("rejected", "damaged-warc")
    assert found[None][2].startswith(f"bytes {offsets[2] + len(records[2]):,}–{garbage_end:,}: not a WARC or ARC")
    assert found[garbage_end][:2] == ("duplicate", None)  # url(32), read from blocks.warc.gz first
    assert statuses(db, "v2.arc") == {0: ("skipped", "warcinfo"), arc[1]: ("article", None)}
