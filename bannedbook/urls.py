"""bannedbook.org's URLs: which ones name the same article.

The site serves every article twice: under /bnews/<category>/… in
Simplified characters and under /bnews/zh-tw/<category>/… in Traditional,
with the same article number. Both are one article; the Simplified URL
names it. Tracking queries (utm_*, fbclid …) and fragments never make a
page another page.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_MIRROR = re.compile(r"^/bnews/zh-tw/", re.I)
_TRACKING = re.compile(r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga)$", re.I)


def clean_url(url: str) -> str:
    """url without its fragment and tracking query parameters."""
    parts = urlsplit(url.strip())
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _TRACKING.match(k)]
    # The query stays as written unless something is dropped from it.
    query = parts.query if len(kept) == len(pairs) else urlencode(kept)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def is_mirror(url: str | None) -> bool:
    """True for the site's Traditional copy of an article (/bnews/zh-tw/…)."""
    return bool(url) and bool(_MIRROR.match(urlsplit(url).path))


def article_url(url: str) -> str:
    """The URL that names the article a page shows: the Simplified one for
    the site's Traditional mirror, else the URL itself."""
    parts = urlsplit(url)
    if _MIRROR.match(parts.path):
        parts = parts._replace(path=_MIRROR.sub("/bnews/", parts.path))
    return urlunsplit(parts)
