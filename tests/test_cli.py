"""The one command line: `bannedbook` lists every job, build_db.py and
`make build` are the same build (lexicon defaults included), `make help`
names every target, and a mistake in serving says what to do."""

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from helpers.pages import SEED_NAME, write_crawl

BANNEDBOOK = [sys.executable, "-m", "bannedbook"]


def run(args: list[str], cwd: Path = ROOT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, **kwargs)


def test_help_lists_every_job():
    done = run([*BANNEDBOOK, "--help"])
    assert done.returncode == 0
    for job in ("build", "serve", "crawl", "publish"):
        assert re.search(rf"^\s+{job}\s+\S", done.stdout, re.M), done.stdout
    # The jobs that keep their own options show them.
    assert "--contact" in run([*BANNEDBOOK, "crawl", "--help"]).stdout
    assert "--app" in run([*BANNEDBOOK, "publish", "--help"]).stdout


def test_make_help_names_every_target():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    done = run(["make", "--no-print-directory", "help"])
    assert done.returncode == 0
    listed = set(re.findall(r"^  ([a-z][a-z-]*)\s+\S", done.stdout, re.M))
    assert targets and listed == targets, (targets, listed)


def lexicon_tables(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select term, articles from lexicon order by term").fetchall()


def test_build_db_py_and_make_build_match_the_same_lexicons(tmp_path):
    """Both read every lexicons/*.csv when told nothing (build_db.py used to
    match none), and LEXICON= (empty) means none for both."""
    raw = write_crawl(tmp_path / "raw", {SEED_NAME: (ROOT / "raw" / SEED_NAME).read_bytes()})
    by_script, by_make, by_make_none = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    assert run([sys.executable, "build_db.py", str(raw), str(by_script)]).returncode == 0
    make = ["make", "--no-print-directory", "build", f"RAW={raw}", f"BIN={Path(sys.executable).parent}"]
    assert run([*make, f"DB={by_make}"]).returncode == 0
    assert run([*make, f"DB={by_make_none}", "LEXICON="]).returncode == 0
    expected = len({line.split(",")[0] for path in (ROOT / "lexicons").glob("*.csv")
                    for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()})
    assert len(lexicon_tables(by_script)) == expected > 0
    assert lexicon_tables(by_script) == lexicon_tables(by_make)
    assert lexicon_tables(by_make_none) == []


def test_serving_a_missing_database_says_how_to_build_it(tmp_path):
    done = run([*BANNEDBOOK, "serve", str(tmp_path / "missing.db"), "--port", "1"])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr and "make build" in done.stderr
    done = run(["make", "--no-print-directory", "serve", f"DB={tmp_path / 'missing.db'}",
                f"BIN={Path(sys.executable).parent}"])
    assert done.returncode != 0 and "does not exist" in done.stderr


def test_serving_leaves_no_temporary_folder(seed_db, tmp_path):
    """A database named otherwise is served without a link on disk, and the
    inspect step's link goes with its folder (each run had left a folder in
    /tmp for good)."""
    import os
    import urllib.request

    from helpers.servers import free_port, wait_until_answering

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    db = tmp_path / "archive-2024.db"
    shutil.copy(seed_db, db)
    assert run([*BANNEDBOOK, "build", "--help"], env=env).returncode == 0
    assert run([sys.executable, "-c", "import sys; from bannedbook.web.site import write_inspect_file; "
                "write_inspect_file(sys.argv[1])", str(db)], env=env).returncode == 0
    port = free_port()
    server = subprocess.Popen([*BANNEDBOOK, "serve", str(db), "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}", server)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/bannedbook/articles.json", timeout=30) as response:
            assert response.status == 200 and json.loads(response.read())["rows"]
        assert not list(temp.iterdir())
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not list(temp.iterdir())


def articles(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from articles").fetchone()[0]


def test_make_build_refuses_to_empty_the_archive_until_told(tmp_path):
    """`make build RAW=typo` (an empty folder, an unmounted disk) leaves the
    archive byte for byte as it was; PRUNE=1 confirms."""
    raw = write_crawl(tmp_path / "raw", {SEED_NAME: (ROOT / "raw" / SEED_NAME).read_bytes()})
    db = tmp_path / "archive.db"
    make = ["make", "--no-print-directory", "build", f"DB={db}", "LEXICON=", f"BIN={Path(sys.executable).parent}"]
    assert run([*make, f"RAW={raw}"]).returncode == 0 and articles(db) == 1
    before = db.read_bytes()
    (tmp_path / "typo").mkdir()
    done = run([*make, f"RAW={tmp_path / 'typo'}"])
    assert done.returncode != 0
    (message,) = [line for line in done.stderr.splitlines() if line.startswith("bannedbook build: error:")]
    assert "PRUNE=1" in message and "1 of the 1" in message
    assert db.read_bytes() == before
    assert run([*make, f"RAW={tmp_path / 'typo'}", "PRUNE=1"]).returncode == 0 and articles(db) == 0


def test_sites_keeps_pages_of_the_hosts_named(tmp_path):
    from helpers.pages import full_page
    from helpers.warcs import Entry, write_warc

    blog, other = "https://blog.example.org/2024/07/post.html", "https://news.example.net/a.html"
    raw = tmp_path / "raw"
    write_warc(raw / "a.warc.gz", [Entry(blog, full_page(url=blog).encode()),
                                   Entry(other, full_page(url=other).encode())])
    make = ["make", "--no-print-directory", "build", f"RAW={raw}", "LEXICON=", f"BIN={Path(sys.executable).parent}"]
    assert run([*make, f"DB={tmp_path / 'own.db'}"]).returncode == 0
    assert articles(tmp_path / "own.db") == 0
    assert run([*make, f"DB={tmp_path / 'told.db'}", "SITES=blog.example.org,news.example.net"]).returncode == 0
    assert articles(tmp_path / "told.db") == 2
