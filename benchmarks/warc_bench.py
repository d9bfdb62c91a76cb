"""Build the archive from one big WARC file: pages per second and the peak
memory of the build, which must not grow with the file.

    PYTHONPATH=tests python benchmarks/warc_bench.py --raw /tmp/corpus100k [--gb 1.0] [--work /tmp/warc-bench]

Writes one .warc.gz the way a crawl does (warcio; a response record per
page of the synthetic crawl in --raw, as text/html, and an image record
after every few pages, as a real crawl of the site holds them) until it is
--gb gigabytes, then runs `build_db.py --full` on a folder holding only
that file, sampling the RSS of the build's whole process tree. In the same
run, for scale: the build's reader (bannedbook/build/warc.py) and warcio each
reading the file alone (records and payloads, no
extraction), and the build of the same pages as plain files.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from pathlib import Path

from build_bench import run_measured
from common import finish, save, table, target
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bannedbook.build.files import PAGE_SUFFIXES
from bannedbook.build.warc import records
from bannedbook.text.decode import MAX_PAGE_BYTES

SITE = "https://www.bannedbook.org"


def write_big_warc(raw: Path, out: Path, size: int, seed: int = 5) -> tuple[int, int]:
    """Pages of raw (again and again, under new URLs, until the file is
    size bytes) and images; returns (page records, image records)."""
    rng = random.Random(seed)
    pages = sorted(p for p in raw.rglob("*") if p.suffix.lower() in PAGE_SUFFIXES and p.is_file())
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = [0, 0]
    with open(out, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(out.name, {"software": "benchmarks/warc_bench.py"}))
        round_ = 0
        while handle.tell() < size:
            for index, path in enumerate(pages):
                if handle.tell() >= size:
                    break
                url = f"{SITE}/bench/{round_}/{path.relative_to(raw).as_posix()}"
                _response(writer, url, path.read_bytes(), "text/html")
                counts[0] += 1
                if index % 4 == 0:  # photos: incompressible bytes
                    _response(writer, f"{url}.jpg", rng.randbytes(rng.randrange(20_000, 120_000)), "image/jpeg")
                    counts[1] += 1
            round_ += 1
    return counts[0], counts[1]


def _response(writer: WARCWriter, url: str, body: bytes, media: str) -> None:
    http = StatusAndHeaders("200 OK", [("Content-Type", media), ("Content-Length", str(len(body)))],
                           protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))


def read_seconds(path: Path) -> tuple[float, float]:
    """Seconds of the build's reader, then of warcio, reading every record
    and payload of the file, nothing else."""
    started = time.perf_counter()
    for _ in records(open(path, "rb"), MAX_PAGE_BYTES):
        pass
    ours = time.perf_counter() - started
    started = time.perf_counter()
    with open(path, "rb") as handle:
        for record in ArchiveIterator(handle):
            record.content_stream().read()
    return ours, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True, help="a crawl of plain pages (tests/helpers/corpus.py)")
    parser.add_argument("--gb", type=float, default=1.0, help="size of the WARC file to build from")
    parser.add_argument("--work", type=Path, default=Path("/tmp/warc-bench"))
    args = parser.parse_args(argv)
    warc = args.work / "raw" / "crawl.warc.gz"
    size = int(args.gb * 1e9)
    if not warc.exists() or warc.stat().st_size < size:
        print(f"writing {args.gb} GB of WARC from {args.raw}…", file=sys.stderr)
        write_big_warc(args.raw, warc, size)
    with open(warc, "rb") as handle:
        kinds = {"pages": 0, "images": 0}
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                kinds["images" if record.http_headers.get_header("Content-Type") == "image/jpeg" else "pages"] += 1
    reading, warcio_reading = read_seconds(warc)
    db = args.work / "bannedbook.db"
    seconds, peak = run_measured([sys.executable, "build_db.py", str(warc.parent), str(db), "--full"])
    plain_seconds, plain_peak = run_measured([sys.executable, "build_db.py", str(args.raw),
                                              str(args.work / "plain.db"), "--full"])
    plain_pages = sum(1 for p in args.raw.rglob("*") if p.suffix.lower() in PAGE_SUFFIXES)
    rows = [
        ["WARC file", f"{warc.stat().st_size / 1e9:.2f} GB", f"{kinds['pages']:,} pages, {kinds['images']:,} images"],
        ["the build's reader reading it alone", f"{reading:.0f} s", f"{warc.stat().st_size / 1e6 / reading:.0f} MB/s"],
        ["warcio reading it alone", f"{warcio_reading:.0f} s",
         f"{warc.stat().st_size / 1e6 / warcio_reading:.0f} MB/s"],
        ["full build from the WARC", f"{seconds:.0f} s", f"{kinds['pages'] / seconds:.0f} pages/s"],
        ["peak RSS of that build", f"{peak / 1e6:.0f} MB", "all processes"],
        ["full build of the plain pages", f"{plain_seconds:.0f} s",
         f"{plain_pages / plain_seconds:.0f} pages/s, peak RSS {plain_peak / 1e6:.0f} MB"],
    ]
    targets = [target("peak RSS of the WARC build (MB)", round(peak / 1e6), 500)]
    save(f"warc-{args.gb:g}gb", f"Building from a {args.gb:g} GB WARC file",
         [table("One WARC file, one build", ["", "figure", ""], rows)],
         notes=["The WARC is streamed in the build's main process (bannedbook/build/warc.py) while the workers "
                "extract; "
                "payloads read but not yet written are capped at 64 MB."], targets=targets)
    for row in rows:
        print("  ".join(row))
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
