"""Loads the citation exports and the article page's citation metadata
(bannedbook/cite.py: .ris and .bib renderers, `citation` for the template)
for `datasette --plugins-dir`."""

from bannedbook.cite import extra_template_vars, register_output_renderer  # noqa: F401
