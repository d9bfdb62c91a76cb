"""The archive's one command line, `bannedbook`, over the library:

    bannedbook build [RAW] [DB]     raw folder in, database out (bannedbook.build)
    bannedbook serve [DB]           the site on 127.0.0.1 (bannedbook.web.site)
    bannedbook crawl [SITE]         the site's pages into WARC files (bannedbook.crawl)
    bannedbook backfill [SITE]      the web archives' captures of them into WARC files (bannedbook.crawl.backfill)
    bannedbook publish DB --app A   the site to Fly.io (bannedbook.web.publish)

The Makefile's targets and build_db.py call it; each default lives here once.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

RAW = Path("raw")
DB = Path("bannedbook.db")
PORT = 8001
# Every lexicon of the project is matched unless the build is told otherwise.
LEXICONS = Path("lexicons")


def default_lexicons() -> list[Path]:
    return sorted(LEXICONS.glob("*.csv")) if LEXICONS.is_dir() else []


def _error(command: str, message: str) -> int:
    print(f"bannedbook {command}: error: {message}", file=sys.stderr)
    return 2


def build_command(args: argparse.Namespace) -> int:
    from .build.pipeline import build, summary
    from .errors import BuildError
    from .web.site import fresh_inspect_file, write_inspect_file

    lexicons = [] if args.no_lexicon else (args.lexicon or default_lexicons())
    started = time.perf_counter()
    try:
        counts = build(args.raw, args.db, args.workers, progress=sys.stderr.isatty(), full=args.full,
                       lexicon=lexicons, prune=args.prune, sites=args.site)
    except BuildError as error:
        return _error("build", str(error))
    except sqlite3.OperationalError as error:  # the disk is full, the file system read-only …
        return _error("build", f"cannot write the database {args.db}: {error}")
    if not fresh_inspect_file(args.db):
        write_inspect_file(args.db)  # table counts, so Datasette starts without counting
    print(summary(counts, args.db, time.perf_counter() - started))
    return 0


def serve_command(args: argparse.Namespace) -> int:
    from .errors import MissingDatabase
    from .web.site import serve

    try:
        serve(args.db, args.port, args.host)
    except MissingDatabase:
        return _error("serve", f"the database {args.db} does not exist; build it first with "
                               f"`make build DB={args.db}` (or `bannedbook build RAW {args.db}`)")
    except sqlite3.DatabaseError as error:
        return _error("serve", f"{args.db} is not an archive database: {error}")
    return 0


def crawl_command(argv: list[str]) -> int:
    from .crawl.crawl import main

    return main(argv)


def backfill_command(argv: list[str]) -> int:
    from .crawl.backfill import main

    return main(argv)


def publish_command(argv: list[str]) -> int:
    from .web.publish import main

    return main(argv)


# Jobs that parse their own options: everything after the job's name is theirs.
OWN_OPTIONS = {"crawl": crawl_command, "backfill": backfill_command, "publish": publish_command}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bannedbook", description="An open archive of censored Chinese news: "
                                  "build it from crawled pages and web archives, serve it, crawl and publish it.")
    jobs = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = jobs.add_parser("build", help="build (or bring up to date) the database from a raw folder",
                            description="Read every page and WARC/ARC file under RAW into DB (only new and "
                                        "changed files when DB exists), with Chinese full-text search.")
    build.add_argument("raw", nargs="?", type=Path, default=RAW, help=f"the raw folder (default {RAW})")
    build.add_argument("db", nargs="?", type=Path, default=DB, help=f"the database (default {DB})")
    build.add_argument("--full", action="store_true", help="read every file, even if DB is up to date with it")
    build.add_argument("--workers", type=int, help="processes to extract with (default: all cores)")
    build.add_argument("--lexicon", action="append", type=Path, metavar="CSV",
                       help=f"a CSV of terms to match (repeat for several; default every {LEXICONS}/*.csv)")
    build.add_argument("--no-lexicon", action="store_true", help="match no lexicon")
    build.add_argument("--prune", action="store_true",
                       help="allow a build that removes more than half of the archive's articles")
    build.add_argument("--site", action="append", default=[], metavar="HOST",
                       help="also keep pages of this host (repeat for several; default only the site's own)")
    build.set_defaults(run=build_command)

    serve = jobs.add_parser("serve", help="serve a database with the archive's site (no build)",
                            description="Serve DB as it is, read-only, with the archive's full configuration.")
    serve.add_argument("db", nargs="?", type=Path, default=DB, help=f"the database (default {DB})")
    serve.add_argument("--port", type=int, default=PORT, help=f"the port (default {PORT})")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.set_defaults(run=serve_command)

    # Listed here for --help; their options are their own (main hands them over).
    jobs.add_parser("crawl", help="fetch the site's articles politely into WARC files")
    jobs.add_parser("backfill", help="fetch the web archives' captures of the site's articles into WARC files")
    jobs.add_parser("publish", help="deploy the site to Fly.io (or write its files)")
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in OWN_OPTIONS:
        return OWN_OPTIONS[argv[0]](argv[1:])
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
