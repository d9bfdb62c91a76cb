"""robots.txt's Request-rate paces the crawler: the fake site (tests/helpers/fakesite.py)
asks for at most 8 requests a second, and the server's own log shows every
request at least 1/8 s after the one before."""

from __future__ import annotations

import io

from helpers.fakesite import FakeSite

from bannedbook.crawl.crawl import Settings, crawl

RATE = "8/1s"  # requests / seconds: one request every 0.125 s at most
INTERVAL = 1 / 8


class RateLimitedSite(FakeSite):
    """The fake site with a robots.txt that limits the rate and sets a far
    shorter Crawl-delay, so only Request-rate can account for the pace."""

    def robots(self) -> str:
        return (f"User-agent: *\nCrawl-delay: 0.001\nRequest-rate: {RATE}\nDisallow: /private/\n\n"
                f"Sitemap: {self.base}/sitemap_index.xml\n")


def test_requests_are_spaced_by_robots_request_rate(tmp_path):
    with RateLimitedSite(articles=2) as site:
        out = io.StringIO()
        # rate=0: no limit of the crawler's own, so any pause comes from robots.txt.
        crawl(Settings(site.site, tmp_path, contact="https://example.org/archive-team", rate=0, timeout=2,
                       progress=False), out=out)
    assert "finished" in out.getvalue()
    times = [hit.time for hit in site.log]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert site.log[0].path == "/robots.txt" and site.requests_for(site.article_urls[0].removeprefix(site.base))
    # The crawler waits after each answer ends, so the server sees at least
    # the interval between arrivals (unpaced, the gaps are about a millisecond).
    assert len(gaps) >= 8 and min(gaps) >= INTERVAL - 0.002, gaps
