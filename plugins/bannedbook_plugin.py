"""Loads the project's Datasette plugin (it lives in the bannedbook package,
beside the code it shares with the build) for `datasette --plugins-dir`."""

from bannedbook.plugin import asgi_wrapper, prepare_connection, render_cell  # noqa: F401
