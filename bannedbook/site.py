"""How the archive is served: one home for the Datasette configuration that
`make serve`, `make publish` and the tests all use."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata.yml"
PLUGINS = ROOT / "plugins"
TEMPLATES = ROOT / "templates"

SETTINGS = {
    "sql_time_limit_ms": 3000,
    "max_returned_rows": 1000,
    "facet_time_limit_ms": 500,
    # Suggesting facets costs hundreds of ms on every search page.
    "suggest_facets": False,
    "default_page_size": 50,
    "default_cache_ttl": 3600,
}


def cli_args(db: Path | str) -> list[str]:
    """`datasette` arguments serving db read-only with the full configuration."""
    args = ["-i", str(db), "--metadata", str(METADATA), "--plugins-dir", str(PLUGINS),
            "--template-dir", str(TEMPLATES), "--cors"]
    for name, value in SETTINGS.items():
        args += ["--setting", name, ("on" if value else "off") if isinstance(value, bool) else str(value)]
    return args


def make_datasette(db: Path | str):
    """The same site, in process (for tests and benchmarks)."""
    import yaml
    from datasette.app import Datasette

    return Datasette(
        immutables=[str(db)],
        metadata=yaml.safe_load(METADATA.read_text(encoding="utf-8")),
        plugins_dir=str(PLUGINS),
        template_dir=str(TEMPLATES),
        settings=SETTINGS,
        cors=True,
    )


if __name__ == "__main__":
    # python -m bannedbook.site DB PORT [extra datasette args]
    db, port, *extra = sys.argv[1:]
    datasette = Path(sys.executable).with_name("datasette")
    os.execv(datasette, [str(datasette), "serve", *cli_args(db), "-h", "127.0.0.1", "-p", port, *extra])
