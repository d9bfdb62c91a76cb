"""bannedbook.org's URLs: the one normal form of a URL, which URLs are
articles, and which name the same article.

The site serves every article twice: under /bnews/<category>/… in
Simplified characters and under /bnews/zh-tw/<category>/… in Traditional,
with the same article number. Both are one article; the Simplified URL
names it. Tracking queries (utm_*, fbclid …) and fragments never make a
page another page. The crawler (discover.py), the build (store.py, for
article ids and which pages are the site's) and extraction read URLs by
these rules.

The site is www.bannedbook.org, also served as bannedbook.org (SITE_HOSTS);
a build may be told more hosts (build(sites=…)). A page states its own URL
(<link rel=canonical>, og:url), but a page can state anything: a capture
is believed only when its statement names the page it was captured from
(same_page), so no page can speak for another URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

# https://www.bannedbook.org/bnews/<category>/<YYYYMMDD>/<number>.html; the
# site serves each article again, in Traditional characters, under /bnews/zh-tw/.
ARTICLE_PATH = re.compile(r"^/bnews/(?:(zh-tw)/)?([^/]+)/(\d{8})/(\d+)\.html$")
# Query parameters that only say where a reader came from, never which page.
TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|dclid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl)$", re.I)
_MIRROR = re.compile(r"^/bnews/zh-tw/", re.I)
# The site's own hosts: one site under two names; its home page.
SITE_HOSTS = ("www.bannedbook.org", "bannedbook.org")
SITE = f"https://{SITE_HOSTS[0]}/"
# Every printable ASCII character: what same_page leaves as it is (escapes
# included), so only non-ASCII characters are percent-encoded.
_ASCII = "".join(map(chr, range(0x21, 0x7F)))
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_HOST = re.compile(r"[\w.:-]+")  # a host name, or an IP address (IPv6 without its brackets)


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port
    if port == {"http": 80, "https": 443}.get(parts.scheme):
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def normalise_url(url: str, base: str | None = None) -> str | None:
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


def host(url: str | None) -> str:
    """The URL's host name in lower case; "" when it has none (javascript:,
    a path alone, an unparseable URL)."""
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


def site_hosts(more: Iterable[str] = ()) -> frozenset[str]:
    """The hosts whose pages the archive keeps: the site's own and more
    (each a host name, host:port or URL, or several separated by commas or
    spaces as SITES= gives them; a port does not matter: a site is its
    host). Raises ValueError for one that names no host."""
    hosts = set(SITE_HOSTS)
    for name in (part for given in more for part in re.split(r"[,\s]+", given) if part):
        found = host(name if "//" in name else f"//{name}")
        if not _HOST.fullmatch(found):
            raise ValueError(f"{name!r} is not a host name")
        hosts.add(found)
    return frozenset(hosts)


def same_page(stated: str, captured: str) -> bool:
    """Whether a page's stated URL names the page it was captured from:
    the same host (the site's two names are one), port, path and query once
    both are normalised, whatever the scheme; the site's Traditional mirror
    names its article's page. Only then is a statement believed: a page
    served at one URL never speaks for another."""
    keys = {_page_key(stated), _page_key(captured)}
    return len(keys) == 1 and None not in keys


def _page_key(url: str) -> tuple | None:
    normal = normalise_url(url)
    if normal is None:
        return None
    _, name, port = origin(normal)
    parts = urlsplit(article_url(normal))
    # Non-ASCII characters and their UTF-8 escapes are one spelling; an
    # escape of an ASCII character is not that character ("%2E" is not
    # "."), so an escape never makes one page another.
    path = _ESCAPE.sub(lambda m: m.group().upper(), quote(f"{parts.path}?{parts.query}", safe=_ASCII))
    return ("bannedbook.org" if name in SITE_HOSTS else name, port, path)


def safe_href(url: object) -> str:
    """url when it is an http(s) URL, else "" (templates then show no link)."""
    if isinstance(url, str) and url.strip().lower().startswith(("http://", "https://")):
        return url.strip()
    return ""
