"""Loads the serving hardening (bannedbook/security.py: Content-Security-Policy
and robots.txt lines) for `datasette --plugins-dir`."""

from bannedbook.security import asgi_wrapper, block_robots_extra_lines  # noqa: F401
