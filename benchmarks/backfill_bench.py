"""Re-crawl and backfill: what a second crawl costs, and a backfill from a
real pywb then a crawl, against the tests' fake site on 127.0.0.1.

    PYTHONPATH=tests python benchmarks/backfill_bench.py [--articles 10000] [--changed 0.01]
                                                         [--captured 1000] [--lacking 100] [--after 50]

(the fake site and the pywb helper live with the tests; `make bench` sets the path)

Re-crawl: the fake site with ARTICLES articles in sitemaps of 1,000 (each
with <lastmod>, in a sitemap index that dates each sitemap), crawled whole
at no rate limit; then CHANGED of the articles, at random, change, and a
second crawl runs. Figures from the site's own request log: the second
crawl's requests as a share of the first's, and whether the crawl's WARC
files (read back with warcio) hold the new text of every changed page.

Backfill: a pywb collection (WARC files this script writes) holding two
captures of each of CAPTURED articles, an older version and the current
one, spread over 2022–2024; the site has LACKING more articles no archive
holds, and AFTER of the captured ones change on the site after their last
capture. A backfill (no rate limit) from it, then a crawl, then a build:
every capture must be in `captures` once with its provenance, and the site
must be asked only for the LACKING + AFTER pages (its request log).

Rates are measured here, on one machine, against local servers: they bound
what our code costs per page or capture. The time a real run takes is set
by the pause each service asks for between requests (the crawl's RATE, the
archives' intervals in bannedbook/crawl/backfill.py), so the extrapolations
to a million pages multiply the measured requests per page or capture by
those pauses.
"""

from __future__ import annotations

import argparse
import io
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from common import finish, save, table, target
from helpers.fakesite import FakeSite, article_html
from helpers.wayback import Snapshot, Wayback
from warcio.archiveiterator import ArchiveIterator

from bannedbook.build.pipeline import build
from bannedbook.crawl.backfill import INTERVALS, Options, backfill, warc_date
from bannedbook.crawl.crawl import Settings, crawl

ROOT = Path(__file__).resolve().parent.parent
CONTACT = "https://example.org/bench"
MILLION = 1_000_000
DAY = 86400


def articles_of(site: FakeSite) -> list[str]:
    return sorted(path for path, page in site.pages.items() if page.article and "/zh-tw/" not in path)


def run_crawl(site: FakeSite, raw: Path) -> tuple[int, int, float, str]:
    """(requests, article requests, seconds, summary) of one crawl, from the site's log."""
    site.log.clear()
    out = io.StringIO()
    started = time.perf_counter()
    crawl(Settings(site.site, raw, rate=0, progress=False, contact=CONTACT), out=out)
    seconds = time.perf_counter() - started
    return len(site.log), sum(hit.path.startswith("/bnews/") for hit in site.log), seconds, out.getvalue()


def newest_bodies(raw: Path, urls: set[str]) -> dict[str, bytes]:
    """The newest stored 200 body of each of urls, read back from the crawl's WARC files."""
    found: dict[str, tuple[str, bytes]] = {}
    for path in sorted((raw / "crawl").glob("*.warc.gz")):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type != "response" or uri not in urls or record.http_headers.get_statuscode() != "200":
                    continue
                date = record.rec_headers.get_header("WARC-Date")
                body = record.content_stream().read()
                if uri not in found or date >= found[uri][0]:
                    found[uri] = (date, body)
    return {url: body for url, (_, body) in found.items()}


def recrawl(articles: int, share: float, work: Path) -> dict:
    with FakeSite(articles=articles, crawl_delay=0, sitemap_size=1000) as site:
        raw = work / "recrawl"
        first, first_pages, first_s, _ = run_crawl(site, raw)
        paths = articles_of(site)
        changed = random.Random(23).sample(paths, round(len(paths) * share))
        for path in changed:
            site.change(path)
        second, second_pages, second_s, summary = run_crawl(site, raw)
    print(summary)
    bodies = newest_bodies(raw, {site.base + path for path in changed})
    missing = [path for path in changed if "第1次更新".encode() not in bodies.get(site.base + path, b"")]
    return {"articles": len(paths), "changed": len(changed), "first": first, "first_pages": first_pages,
            "first_s": first_s, "second": second, "second_pages": second_pages, "second_s": second_s,
            "missing": len(missing)}


def spread(rng: random.Random, start: str, end: str) -> str:
    """A random 14-digit timestamp between two ISO dates."""
    a = time.mktime(time.strptime(start, "%Y-%m-%d"))
    b = time.mktime(time.strptime(end, "%Y-%m-%d"))
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(rng.uniform(a, b)))


def backfill_then_crawl(captured: int, lacking: int, after: int, work: Path) -> dict:
    rng = random.Random(2022)
    with FakeSite(articles=captured + lacking, crawl_delay=0, sitemap_size=1000) as site:
        paths = [p for p in articles_of(site) if "/comments/" in p]  # the numbered articles
        archived = paths[:captured]
        snapshots = []
        for path in archived:
            url, number = site.base + path, site.pages[path].number
            # an older version before the site's lastmod (2024-07-08), the current one after it
            snapshots.append(Snapshot(url, spread(rng, "2022-01-01", "2024-07-01"),
                                      article_html(url, number, version=9).encode()))
            snapshots.append(Snapshot(url, spread(rng, "2024-07-10", "2024-12-31"), site.pages[path].body(site.base)))
        changed_after = rng.sample(archived, after)
        raw = work / "backfill"
        with Wayback(work / "wayback", snapshots) as archive:
            out = io.StringIO()
            started = time.perf_counter()
            backfill(Options(site=site.site, raw=raw, sources=[archive.collection], contact=CONTACT, rate=0),
                     out=out)
            backfill_s = time.perf_counter() - started
            backfill_requests = len(archive.log)
            replays = sum(asked.replay for asked in archive.log)
        print(out.getvalue())
        for path in changed_after:
            site.change(path)
        requests, pages, crawl_s, summary = run_crawl(site, raw)
        print(summary)
        asked = {hit.path for hit in site.log if hit.path.startswith("/bnews/")}
    held_unchanged = set(archived) - set(changed_after)
    expected = set(articles_of(site)) - held_unchanged
    db = work / "archive.db"
    build(raw, db, None, progress=False, sites=[site.base])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select url, captured, archive, archive_timestamp, archive_file, archive_offset "
                            "from captures where archive is not null").fetchall()
    wanted = {(s.url, warc_date(s.timestamp)) for s in snapshots}
    seen = [(url, captured) for url, captured, *_ in rows]
    with_provenance = [r for r in rows if r[2] and r[3] and r[4] and r[5] is not None]
    years = sorted({s.timestamp[:4] for s in snapshots})
    return {"captures": len(snapshots), "years": f"{years[0]}–{years[-1]}", "backfill_s": backfill_s,
            "backfill_requests": backfill_requests, "replays": replays,
            "missing": len(wanted - set(seen)), "twice": len(seen) - len(set(seen)),
            "extra": len(set(seen) - wanted), "no_provenance": len(rows) - len(with_provenance),
            "site_requests": requests, "site_pages": pages, "crawl_s": crawl_s,
            "held_fetched": len(asked & held_unchanged), "expected": len(expected), "asked": len(asked),
            "unexpected": len(asked ^ expected)}


def days(seconds: float) -> str:
    return f"{seconds / DAY:.1f} days" if seconds >= DAY else f"{seconds / 3600:.1f} hours"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--captured", type=int, default=1000, help="articles with two captures each")
    parser.add_argument("--lacking", type=int, default=100)
    parser.add_argument("--after", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        r = recrawl(args.articles, args.changed, Path(folder))
        b = backfill_then_crawl(args.captured, args.lacking, args.after, Path(folder))
    share = r["second"] / r["first"]
    crawl_rate = r["first_pages"] / r["first_s"]
    per_capture = b["backfill_requests"] / b["captures"]
    capture_rate = b["captures"] / b["backfill_s"]
    rows_recrawl = [["first crawl", r["first"], r["first_pages"], round(r["first_s"], 1), round(crawl_rate, 1)],
                    [f"second crawl ({r['changed']} of {r['articles']} changed)", r["second"], r["second_pages"],
                     round(r["second_s"], 1), round(r["second_pages"] / r["second_s"], 1)]]
    rows_backfill = [[f"backfill from pywb ({b['captures']} captures, {b['years']})", b["backfill_requests"],
                      b["replays"], round(b["backfill_s"], 1), round(capture_rate, 1)],
                     ["then the crawl", b["site_requests"], b["site_pages"], round(b["crawl_s"], 1),
                      round(b["site_pages"] / b["crawl_s"], 1) if b["crawl_s"] else 0]]
    million = [
        ["crawl, first pass at RATE=1", days(MILLION * r["first"] / r["first_pages"])],
        [f"crawl again, {args.changed:.0%} changed, at RATE=1", days(MILLION * r["first"] / r["first_pages"] * share)],
        [f"backfill from Common Crawl (a request per {INTERVALS['cc-data']:g} s)",
         days(MILLION * per_capture * INTERVALS["cc-data"])],
        [f"backfill from the Internet Archive (a request per {INTERVALS['ia']:g} s)",
         days(MILLION * per_capture * INTERVALS["ia"])],
        ["our own cost per capture (local pywb, no pause)", days(MILLION / capture_rate)],
        ["our own cost per page (local site, no pause)", days(MILLION / crawl_rate)],
    ]
    targets = [
        target("second crawl's requests ÷ first crawl's", round(share, 4), 0.02),
        target("changed pages whose new text the archive lacks", r["missing"], 0),
        target("backfilled captures missing from captures", b["missing"], 0),
        target("backfilled captures in captures more than once, or not listed", b["twice"] + b["extra"], 0),
        target("backfilled captures without provenance", b["no_provenance"], 0),
        target("site pages fetched that the backfill held unchanged", b["held_fetched"], 0),
        target("site pages fetched other than those the archive lacks or changed since", b["unexpected"], 0),
    ]
    for row in rows_recrawl + rows_backfill + million:
        print("  ", *row)
    save("backfill", "Re-crawl and backfill, against the fake site and pywb on 127.0.0.1",
         [table("Re-crawl by sitemap lastmod (the site's request log)",
                ["run", "requests", "article requests", "seconds", "pages/s"], rows_recrawl),
          table("Backfill, then crawl (the archive's and the site's request logs)",
                ["run", "requests", "captures or pages fetched", "seconds", "per second"], rows_backfill),
          table("A million pages, extrapolated from the requests per page or capture measured above",
                ["what", "time"], million)],
         notes=["A second crawl asks for robots.txt, the home page, its feed, the sitemap index and the sitemaps "
                "that changed (each dates its pages), then only the pages whose lastmod is after their last "
                "capture, newest first.",
                f"The backfill makes {per_capture:.3f} requests per capture (one replay each, and the listing); "
                "a real run's time is set by the archive's pause between requests on its one connection.",
                "After the backfill, the crawl asks the site only for what the archive lacks or what changed "
                "since its capture."],
         targets=targets)
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
