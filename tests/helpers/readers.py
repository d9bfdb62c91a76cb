"""Readers of the RIS and BibTeX exports that the archive did not write:
rispy, bibtexparser (decoding LaTeX with pylatexenc), pybtex and citation-js
(through node, installed by `make test` into .node/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware
from pybtex.database import parse_string as pybtex_parse
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / ".node" / "node_modules"


def latex_decoder() -> LatexNodes2Text:
    """pylatexenc as bibtexparser uses it, taught the LaTeX text macros its
    default table lacks (LaTeX itself knows them)."""
    context = get_default_latex_context_db()
    context.add_context_category("text-macros", prepend=True, macros=[
        MacroTextSpec("textbraceleft", "{"), MacroTextSpec("textbraceright", "}"),
        MacroTextSpec("textasciicircum", "^"), MacroTextSpec("textasciitilde", "~")])
    return LatexNodes2Text(latex_context=context)


def bibtexparser_entries(text: str) -> dict[str, dict[str, str]]:
    """{key: {field: decoded value, "ENTRYTYPE": type}}, refusing any block the parser could not read."""
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware(decoder=latex_decoder())])
    assert not library.failed_blocks, [block.error for block in library.failed_blocks]
    return {e.key: {**{f.key: f.value for f in e.fields}, "ENTRYTYPE": e.entry_type} for e in library.entries}


def raw_bib_fields(text: str) -> dict[str, str]:
    library = bibtexparser.parse_string(text)
    return {f"{e.key}.{f.key}": f.value for e in library.entries for f in e.fields}


def pybtex_entries(text: str):
    """pybtex's BibliographyData (entries keep their raw LaTeX; persons split as BibTeX splits them)."""
    return pybtex_parse(text, "bibtex").entries


def citationjs(text: str, format_: str) -> list[dict]:
    """CSL-JSON items citation-js reads from a RIS ("ris") or BibTeX ("bib") text."""
    node = shutil.which("node")
    if not node or not (NODE_MODULES / "@citation-js" / "core").is_dir():
        pytest.skip("citation-js is not installed (needs node; `make test` installs it into .node/)")
    with tempfile.NamedTemporaryFile("w", suffix=f".{format_}", encoding="utf-8", delete=False) as file:
        file.write(text)
    try:
        done = subprocess.run([node, str(ROOT / "tests" / "citationjs" / "read.js"), file.name, format_],
                              capture_output=True, text=True, timeout=60,
                              env={"NODE_PATH": str(NODE_MODULES), "PATH": "/usr/bin:/bin"})
    finally:
        Path(file.name).unlink()
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
