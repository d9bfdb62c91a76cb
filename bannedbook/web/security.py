"""Serving hardening: a Content-Security-Policy on every response, and the
robots policy.

The archive's text comes from a crawl that may be hostile. Every page renders
it through Jinja's autoescaping, so article text reaches the browser as text;
the CSP is the second line: even if some text did reach a page as markup, an
event-handler attribute, a javascript: URL, a frame, a plugin object, a
<base> or a script from another site would not run.

Datasette's own templates (and datasette-search-all's /-/search) carry inline
<script> blocks, some with per-request data (the searchable tables), so they
cannot be allowed by a fixed hash. Each HTML response instead gets a fresh
nonce, written into the <script> tags the response holds. Those come only
from templates: a value from the database cannot produce a literal "<script"
because autoescaping turns its "<" into "&lt;" (tests/test_hostile.py checks
this in a real browser on a hostile crawl). 'unsafe-inline' is never
granted to scripts, so attributes such as onerror= never run.
"""

from __future__ import annotations

import re
import secrets

from datasette import hookimpl

from bannedbook.web.asgi import rewriting_body

_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])", re.I)

POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'nonce-{nonce}'",
    # Datasette's templates use style attributes and <style> blocks; CSS
    # cannot run script in any current browser.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])  # fmt: skip

# JSON and CSV are never sniffed into HTML or script. (Datasette's --cors
# already sends Referrer-Policy: no-referrer.)
HEADERS = [(b"x-content-type-options", b"nosniff")]


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in headers)


def with_nonce(body: bytes, nonce: str) -> bytes:
    """body with nonce="…" on each <script> tag."""
    return _SCRIPT_TAG.sub(b'<script nonce="' + nonce.encode() + b'"', body)


def secure(app):
    """ASGI middleware: the security headers on every response, and the
    nonce in HTML responses (buffered, rewritten, then sent)."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        nonce = secrets.token_urlsafe(18)
        send_nonced = rewriting_body(send, lambda body: with_nonce(body, nonce),
                                     when=lambda start: _is_html(start["headers"]) and scope["method"] != "HEAD")

        async def send_secured(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                headers += HEADERS + [(b"content-security-policy", POLICY.format(nonce=nonce).encode())]
                message = {**message, "headers": headers}
            return await send_nonced(message)

        return await app(scope, receive, send_secured)

    return wrapped


@hookimpl
def asgi_wrapper(datasette):
    return secure


# robots.txt (served by datasette-block-robots, which disallows everything
# by default; these lines follow its "Disallow: /"). Crawlers may read the
# home page, the article pages and the article list's pages, which is how
# they find the articles; not the SQL console, JSON, CSV, search results,
# facets or sorted views, which are expensive and endless. Google and Bing
# apply the longest matching rule.
ROBOTS_LINES = [
    "Allow: /$",
    "Allow: /-/static/",
    "Allow: /bannedbook/articles$",
    "Allow: /bannedbook/articles?_next=",
    "Allow: /bannedbook/articles/",
    "Disallow: /bannedbook/articles/*.json",
    "Disallow: /bannedbook/articles/*.csv",
    "Disallow: /bannedbook/articles/*?",
]


@hookimpl
def block_robots_extra_lines():
    return ROBOTS_LINES
