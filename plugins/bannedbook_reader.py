"""Loads the reader's pages (bannedbook/reader.py: the article page, the home
page's charts, tag filters and facets) for `datasette --plugins-dir`."""

from bannedbook.reader import (  # noqa: F401
    extra_template_vars,
    filters_from_request,
    prepare_jinja2_environment,
    register_facet_classes,
)
