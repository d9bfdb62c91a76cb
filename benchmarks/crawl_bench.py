"""How fast the crawler asks, against the tests' fake site on 127.0.0.1.

    PYTHONPATH=tests python benchmarks/crawl_bench.py [--pages 300] [--polite-pages 8]

(the fake site and its pages live with the tests; `make bench` sets the path)

Three crawls into fresh folders, each timed from the server's own request
log (first request to last): at RATE=1 and RATE=5 (robots.txt sets no
Crawl-delay), where the figure must stay under the rate, and unlimited
(RATE=0). The unlimited crawl is set against a baseline measured in the same
run: a bare `requests` loop over the same article URLs on one kept-alive
connection, storing nothing, so the ratio is what robots checks, WARC
writing (gzip per record) and a state-file commit per page cost. The fake site
runs in this process, so a loaded machine moves both figures together.

A fourth crawl, of the hostile fake site (gzip bombs of a gigabyte as
robots.txt, sitemap and page, a sitemap file that unzips to 128 MB, a
Content-Length of 5 GB with a body that never ends, pages that drip a byte at
a time, far Retry-Afters), runs the real command line with its default size
limits (8 MB a page, 50 MB a sitemap) in a child process: its peak RSS is
what the bombs cost.

Targets: requests/s at RATE=R <= R (politeness); unlimited crawl >= 0.2 x the
bare loop; the hostile crawl ends by itself within 300 MB peak RSS.
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from common import finish, save, table, target
from helpers.fakesite import FakeSite

from bannedbook.crawl.crawl import Settings, crawl

ROOT = Path(__file__).resolve().parent.parent


def rate_of(times: list[float]) -> float:
    """Requests per second as the server saw them: n-1 gaps over the span."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")


def crawl_once(articles: int, rate: float) -> dict:
    with tempfile.TemporaryDirectory() as folder, FakeSite(articles=articles, crawl_delay=0) as site:
        started = time.perf_counter()
        settings = Settings(site.site, Path(folder), rate=rate, progress=False, contact="https://example.org/bench")
        crawl(settings, out=io.StringIO())
        elapsed = time.perf_counter() - started
        pages = [hit for hit in site.log if hit.path.startswith("/bnews/")]
        return {"requests": len(site.log), "pages": len(pages), "seconds": elapsed,
                "requests_per_s": rate_of([hit.time for hit in site.log]),
                "pages_per_s": rate_of([hit.time for hit in pages])}


def bare_loop(articles: int) -> dict:
    with FakeSite(articles=articles, crawl_delay=0) as site, requests.Session() as session:
        started = time.perf_counter()
        for url in site.article_urls:
            session.get(url).content  # noqa: B018 (read the body, as the crawler does)
        elapsed = time.perf_counter() - started
        times = [hit.time for hit in site.log]
        return {"requests": len(times), "pages": len(times), "seconds": elapsed,
                "requests_per_s": rate_of(times), "pages_per_s": rate_of(times)}


def hostile_once() -> dict:
    """The command line against the hostile site, in a child process whose
    peak RSS (ru_maxrss of the children: this is the only one) is read after."""
    with tempfile.TemporaryDirectory() as folder, FakeSite(hostile=True, articles=8, crawl_delay=0) as site:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bannedbook", "crawl", site.site, "--raw", folder, "--rate", "0",
                               "--contact", "https://example.org/bench", "--deadline", "3", "--max-wait", "5",
                               "--no-progress"], capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return {"seconds": elapsed, "peak_mb": peak, "finished": done.returncode == 0 and "finished" in done.stdout,
            "summary": done.stdout + done.stderr}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300, help="articles for the unlimited crawl and the baseline")
    parser.add_argument("--polite-pages", type=int, default=8, help="articles for the rate-limited crawls")
    args = parser.parse_args()

    runs = {
        "RATE=1": crawl_once(args.polite_pages, 1),
        "RATE=5": crawl_once(args.polite_pages, 5),
        "unlimited (RATE=0)": crawl_once(args.pages, 0),
        "baseline: bare requests loop": bare_loop(args.pages),
    }
    hostile = hostile_once()
    print(hostile["summary"])
    rows = [[name, r["requests"], r["pages"], round(r["seconds"], 2), round(r["requests_per_s"], 2),
             round(r["pages_per_s"], 2)] for name, r in runs.items()]
    ratio = runs["unlimited (RATE=0)"]["pages_per_s"] / runs["baseline: bare requests loop"]["pages_per_s"]
    targets = [
        target("requests/s at RATE=1", round(runs["RATE=1"]["requests_per_s"], 3), 1.0),
        target("requests/s at RATE=5", round(runs["RATE=5"]["requests_per_s"], 3), 5.0),
        target("unlimited crawl pages/s ÷ bare loop pages/s", round(ratio, 3), 0.2, at_most=False),
        target("hostile crawl ended by itself (1 = yes)", int(hostile["finished"]), 1, at_most=False),
        target("hostile crawl: peak RSS (MB)", round(hostile["peak_mb"], 1), 300),
    ]
    for row in rows:
        print(f"  {row[0]:32} {row[1]:5} requests {row[2]:5} pages {row[3]:7} s "
              f"{row[4]:8} req/s {row[5]:8} pages/s")
    path = save("crawl", "Crawler request rate against the fake site on 127.0.0.1",
                [table("Crawls (rates from the server's request log, first request to last)",
                       ["run", "requests", "article requests", "seconds", "requests/s", "pages/s"], rows),
                 table("The hostile site, default limits (the command line in a child process)",
                       ["ended by itself", "seconds", "peak RSS (MB)"],
                       [["yes" if hostile["finished"] else "no", round(hostile["seconds"], 1),
                         round(hostile["peak_mb"], 1)]])],
                notes=["The crawler waits the interval after each answer ends, so its rate stays under RATE "
                       "by the time an answer takes.",
                       "Unlimited: one connection, a WARC record pair and a state-file commit per stored page; "
                       "files are fsynced when closed."],
                targets=targets)
    print(f"wrote {path.relative_to(ROOT)}")
    return finish(targets)


if __name__ == "__main__":
    sys.exit(main())
