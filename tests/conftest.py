import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pages import write_crawl  # noqa: E402

import build_db  # noqa: E402


@pytest.fixture(scope="session")
def gold() -> dict:
    return json.loads((ROOT / "tests" / "fixtures" / "seed.gold.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def seed_db(tmp_path_factory) -> Path:
    """raw/ built as shipped."""
    db = tmp_path_factory.mktemp("seed") / "bannedbook.db"
    build_db.build(ROOT / "raw", db, workers=1, progress=False)
    return db


@pytest.fixture(scope="session")
def crawl(tmp_path_factory) -> Path:
    return write_crawl(tmp_path_factory.mktemp("crawl") / "raw")


@pytest.fixture(scope="session")
def crawl_db(crawl, tmp_path_factory) -> Path:
    """Every page shape in tests/pages.py, built with a process pool."""
    db = tmp_path_factory.mktemp("crawl-db") / "bannedbook.db"
    build_db.build(crawl, db, workers=2, progress=False)
    return db
