"""How the archive is served: one home for the Datasette configuration that
`make serve`, `make publish` and the tests all use.

The hooks (search.py, reader.py, security.py …) are not configured here:
Datasette finds them through the package's `datasette` entry points
(pyproject.toml), as it finds any installed plugin.

Datasette names a database after its file, and metadata.yml, the canned
queries and the templates all describe "bannedbook": the site adds a file
called anything else under that name (make_datasette), and Datasette's own
commands see it through a link in a temporary folder (named_bannedbook).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from bannedbook.db.schema import FTS_TABLE
from bannedbook.errors import MissingDatabase

# Package data: the site is served the same from a checkout and from an
# installed wheel, whatever the current folder.
HERE = Path(__file__).resolve().parent
METADATA = HERE / "metadata.yml"  # the top-level metadata.yml is a link to it
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"  # served at /assets: the archive's stylesheet
NAME = "bannedbook"

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
    """`datasette` arguments serving db (a file called bannedbook.db) read-only
    with the full configuration: the image `make publish` builds runs these."""
    args = ["-i", str(db), *site_args(), "--cors"]
    if inspect := fresh_inspect_file(db):
        args += ["--inspect-file", str(inspect)]
    return args


@contextmanager
def named_bannedbook(db: Path | str) -> Iterator[Path]:
    """db itself when it is called bannedbook.db, else a link of that name to
    it in a temporary folder that goes when the block ends: Datasette's own
    commands (inspect, publish) name a database after its file."""
    db = Path(db).resolve()
    if db.name == f"{NAME}.db":
        yield db
        return
    with tempfile.TemporaryDirectory(prefix=f"{NAME}-") as folder:
        link = Path(folder) / f"{NAME}.db"
        link.symlink_to(db)
        yield link


def site_args() -> list[str]:
    """The metadata, templates, static files and settings that make the site,
    as `datasette serve` and `datasette publish` both take them."""
    return ["--metadata", str(METADATA), "--template-dir", str(TEMPLATES),
            "--static", f"assets:{STATIC}", *setting_args()]


def setting_args() -> list[str]:
    """SETTINGS as `--setting name value` arguments (serve and publish take the same)."""
    args = []
    for name, value in SETTINGS.items():
        args += ["--setting", name, ("on" if value else "off") if isinstance(value, bool) else str(value)]
    return args


def inspect_file(db: Path | str) -> Path:
    """Where the build keeps `datasette inspect` data for db (table counts,
    size, hash): with it an immutable database starts without counting."""
    return Path(f"{db}.inspect.json")


def fresh_inspect_file(db: Path | str) -> Path | None:
    """inspect_file(db) when it describes db as it is now, else None."""
    path = inspect_file(db)
    try:
        entry = json.loads(path.read_text(encoding="utf-8")).get(NAME) or {}
        fresh = entry.get("size") == Path(db).stat().st_size and path.stat().st_mtime_ns >= Path(db).stat().st_mtime_ns
    except (OSError, ValueError, AttributeError):
        return None
    return path if fresh else None


def write_inspect_file(db: Path | str) -> Path:
    """Keep beside db what `datasette inspect` would write for it (under the
    name it is served by): its size, file and every table's row count, so an
    immutable database starts without counting. The hash stays null: it is
    the sha256 of the whole file (about 6 s of every update at 100k articles,
    a minute at a million) and Datasette 0.65 shows it in /-/databases.json
    only; `sha256sum` gives it to whoever publishes the file."""
    path = inspect_file(db)
    temp = path.with_name(f".{path.name}.writing")
    file = Path(db).resolve()
    with closing(sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)) as conn:
        names = [name for (name,) in conn.execute("select name from sqlite_master where type = 'table' order by name")]
        counts = {}
        for name in names:
            if name == FTS_TABLE:
                continue  # its columns are not in articles, by design: one row per article, counted below
            try:
                counts[name] = conn.execute(f"select count(*) from [{name}]").fetchone()[0]
            except sqlite3.Error:
                continue  # a table Datasette could not count either (a virtual table): counted when asked
        if FTS_TABLE in names and "articles" in counts:
            counts[FTS_TABLE] = counts["articles"]
    data = {NAME: {"hash": None, "size": file.stat().st_size, "file": str(file),
                   "tables": {name: {"count": count} for name, count in sorted(counts.items())}}}
    temp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(temp, path)
    return path


def make_datasette(db: Path | str):
    """The site serving db under the name bannedbook, whatever its file is
    called (no link on disk: the database is added under that name)."""
    import yaml
    from datasette.app import Datasette
    from datasette.database import Database

    inspect = fresh_inspect_file(db)
    datasette = Datasette(
        metadata=yaml.safe_load(METADATA.read_text(encoding="utf-8")),
        template_dir=str(TEMPLATES),
        static_mounts=[("assets", str(STATIC))],
        inspect_data=json.loads(inspect.read_text(encoding="utf-8")) if inspect else None,
        settings=SETTINGS,
        cors=True,
    )
    datasette.add_database(Database(datasette, path=str(Path(db).resolve()), is_mutable=False), name=NAME)
    datasette.remove_database("_memory")  # Datasette adds one when it is given no file
    return datasette


def serve(db: Path | str, port: int = 8001, host: str = "127.0.0.1") -> None:
    """Serve db as `make serve` does, until the process is stopped."""
    import uvicorn
    from datasette.utils import check_connection

    if not Path(db).is_file():
        raise MissingDatabase(f"{db} does not exist")
    datasette = make_datasette(db)

    async def start() -> None:
        await datasette.invoke_startup()
        for database in datasette.databases.values():  # a file that is not SQLite fails here, not per request
            await database.execute_fn(check_connection)

    asyncio.run(start())
    uvicorn.run(datasette.app(), host=host, port=port, log_level="info", lifespan="on")
