"""Build bannedbook.db from a folder of crawled pages and web archives:
the project's published entry point, the same as `bannedbook build`.

    python build_db.py [RAW] [DB] [--full] [--workers N] [--lexicon CSV ...] [--prune] [--site HOST ...]
"""

import sys

from bannedbook.cli import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
