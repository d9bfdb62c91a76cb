"""The code fingerprint of a build: which modules of the package turn files
into rows, and a number that changes when any of them does.

Found by walking the imports of bannedbook.build.pipeline (with ast, so
imports inside functions count), so a module is covered the day the
pipeline imports it. tests/test_layers.py walks imports the same way.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # bannedbook/


@cache
def pipeline_version() -> int:
    """A fingerprint of the code that turns files into rows, kept in the
    database's user_version: an incremental build reuses rows only from a
    database the same code wrote."""
    sources = pipeline_modules()
    digest = hashlib.sha256(b"".join(sources[name] for name in sorted(sources))).digest()
    return int.from_bytes(digest[:4], "big") >> 1  # user_version is a signed 32-bit integer


def pipeline_modules() -> dict[str, bytes]:
    """{module name: source} of bannedbook.build.pipeline and every module of
    the package it imports, followed through their imports (those inside
    functions too), so a new module is covered the day it is imported."""
    seen: dict[str, bytes] = {}
    pending = ["bannedbook.build.pipeline"]
    while pending:
        name = pending.pop()
        path = module_path(name)
        if name in seen or path is None:
            continue
        seen[name] = source = path.read_bytes()
        pending += imported_modules(name, source, path.name == "__init__.py")
    return seen


def module_path(name: str) -> Path | None:
    """The file of the package's module name (a dotted name from
    bannedbook), or None when it names no module of the package."""
    parts = name.split(".")
    if parts[0] != "bannedbook":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(name: str, source: bytes, is_package: bool = False) -> list[str]:
    """The dotted names of the package's modules that the module name (with
    this source) imports, wherever the import stands: `from X import Y`
    counts X, and X.Y when Y is a module."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = node.module or ""
            if node.level:
                module = f"{base}.{module}" if module else base
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names if module_path(f"{module}.{alias.name}")]
    # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
    found += [module.rsplit(".", depth)[0] for module in list(found) for depth in range(1, module.count("."))]
    return [module for module in found if module_path(module)]
