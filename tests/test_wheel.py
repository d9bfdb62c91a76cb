"""A wheel built from the package (as `make publish` builds it) carries the
whole site: installed into a folder of its own and run from an empty folder,
far from the source tree, `bannedbook serve` serves article pages with the
archive's templates, its metadata and its stylesheet."""

import os
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import ROOT
from helpers.servers import served

from bannedbook.web.publish import stage_plugins


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read().decode("utf-8")


def test_an_installed_wheel_serves_the_full_site_from_any_folder(seed_db, tmp_path):
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True)
    _, wheel = stage_plugins(tmp_path)
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True)
    assert after.stdout == before.stdout  # building the wheel left nothing in the tree
    installed, empty = tmp_path / "installed", tmp_path / "empty"
    empty.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "--target", str(installed), str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": str(installed)}
    where = subprocess.run([sys.executable, "-c", "import bannedbook.web.site as s; print(s.TEMPLATES)"],
                           cwd=empty, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(installed)  # the wheel's package, not the source tree's

    article_id, title = sqlite3.connect(seed_db).execute("select id, title from articles limit 1").fetchone()
    command = [sys.executable, "-m", "bannedbook", "serve", str(seed_db), "--port", "{port}"]
    old_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(installed)  # served() starts the command with this process's environment
    try:
        with served(seed_db, command, cwd=empty) as url:
            page = get(f"{url}/bannedbook/articles/{article_id}")
            stylesheet = get(f"{url}/assets/archive.css")
            about = get(f"{url}/about")
    finally:
        if old_path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old_path
    assert title in page and 'class="article-body"' in page  # the archive's own article template
    assert stylesheet == (ROOT / "bannedbook" / "web" / "static" / "archive.css").read_text(encoding="utf-8")
    assert "关于 About" in about  # templates/pages/about.html
    assert "禁闻档案 · Banned News Archive" in page  # metadata.yml's title
