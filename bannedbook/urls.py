"""bannedbook.org's URLs: the one normal form of a URL, which URLs are
articles, and which name the same article.

The site serves every article twice: under /bnews/<category>/… in
Simplified characters and under /bnews/zh-tw/<category>/… in Traditional,
with the same article number. Both are one article; the Simplified URL
names it. Tracking queries (utm_*, fbclid …) and fragments never make a
page another page. The crawler (discover.py), the build (store.py, for
article ids) and extraction read URLs by these rules.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# https://www.bannedbook.org/bnews/<category>/<YYYYMMDD>/<number>.html; the
# site serves each article again, in Traditional characters, under /bnews/zh-tw/.
ARTICLE_PATH = re.compile(r"^/bnews/(?:(zh-tw)/)?([^/]+)/(\d{8})/(\d+)\.html$")
# Query parameters that only say where a reader came from, never which page.
TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|dclid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl)$", re.I)
_MIRROR = re.compile(r"^/bnews/zh-tw/", re.I)


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port
    if port == {"http": 80, "https": 443}.get(parts.scheme):
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def normalise(url: str, base: str | None = None) -> str | None:
    """The URL a page is stored and deduplicated under: absolute, scheme and
    host in lower case, default port, fragment and tracking parameters
    dropped. None for what is not an http(s) URL."""
    url = url.strip()
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        scheme, host, port = origin(url)
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host:
        return None
    netloc = host if port is None else f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k)])
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def article_kind(url: str) -> str | None:
    """'article', 'mirror' (the /bnews/zh-tw/ copy of an article) or None."""
    match = ARTICLE_PATH.match(urlsplit(url).path)
    if not match:
        return None
    return "mirror" if match.group(1) else "article"


def is_mirror(url: str | None) -> bool:
    """True for the site's Traditional copy of an article (/bnews/zh-tw/…)."""
    return bool(url) and bool(_MIRROR.match(_path(url)))


def article_url(url: str) -> str:
    """The URL that names the article a page shows: the Simplified one for
    the site's Traditional mirror, else the URL itself."""
    if not _MIRROR.match(_path(url)):
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=_MIRROR.sub("/bnews/", parts.path)))


def _path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:  # a crawled page may state any URL ("http://[::1" …)
        return ""
