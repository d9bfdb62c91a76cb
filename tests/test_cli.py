"""The one command line: `bannedbook` lists every job, build_db.py and
`make build` are the same build (lexicon defaults included), `make help`
names every target, and a mistake in serving says what to do."""

import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import ROOT
from pages import SEED_NAME, write_crawl

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


def test_serving_leaves_no_temporary_folder(seed_db, tmp_path, serve):
    """A database named otherwise is served without a link on disk, and the
    inspect step's link goes with its folder."""
    before = set(Path(tempfile.gettempdir()).iterdir())
    db = tmp_path / "archive-2024.db"
    shutil.copy(seed_db, db)
    assert run([sys.executable, "-c", "import sys; from bannedbook.site import write_inspect_file; "
                "write_inspect_file(sys.argv[1])", str(db)]).returncode == 0
    url = serve(db)
    import urllib.request
    with urllib.request.urlopen(url + "/bannedbook/articles.json", timeout=30) as response:
        assert response.status == 200
    left = {path for path in set(Path(tempfile.gettempdir()).iterdir()) - before if "bannedbook" in path.name}
    assert not left, left
