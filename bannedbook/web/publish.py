"""`make publish`: the site `make serve` runs, deployed to Fly.io with
`datasette publish fly`, from the same metadata, plugins, templates, static
files and settings (bannedbook/web/site.py).

    bannedbook publish DB --app NAME [--generate-dir DIR]

The database is served immutable, so serving scales out as identical
read-only replicas of one file behind Fly's load balancer (`fly scale count
N`). The site's hooks live in the bannedbook package and Datasette finds them
by its entry points: a wheel of the package goes into the image (in the
folder `datasette publish` copies as plugins/, which holds no other file)
and the image installs it, with the dependencies pyproject.toml pins. Any
database file is published as bannedbook.db. With --generate-dir nothing is deployed:
the Dockerfile, fly.toml and everything the image is built from are written
to DIR (no Docker or flyctl needed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bannedbook.web.site import HERE, named_bannedbook, site_args

ROOT = HERE.parent.parent  # the project: pyproject.toml builds the package from here


def stage_plugins(folder: Path) -> tuple[Path, Path]:
    """The image's plugins folder, made in folder, holding a wheel of the
    bannedbook package. Returns the folder and the wheel."""
    plugins = folder / "plugins"
    plugins.mkdir()
    # setuptools builds in the project's folder; an extra configuration
    # file sends its build and egg-info folders to ours, so nothing is left
    # in the tree.
    config = folder / "build.cfg"
    config.write_text(f"[build]\nbuild_base = {folder / 'build'}\n[egg_info]\negg_base = {folder}\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "-w", str(plugins), str(ROOT)],
                   check=True, env={**os.environ, "DIST_EXTRA_CONFIG": str(config)})
    (wheel,) = plugins.glob("*.whl")
    return plugins, wheel


def publish_command(db: Path, app: str, plugins: Path, wheel: Path, generate_dir: Path | None = None) -> list[str]:
    """The `datasette publish fly` command line for db (a file called bannedbook.db)."""
    datasette = Path(sys.executable).with_name("datasette")
    command = [str(datasette), "publish", "fly", str(db), "--app", app, *site_args(),
               "--plugins-dir", str(plugins),
               # The image copies the build folder to /app and installs from there.
               "--install", f"plugins/{wheel.name}",
               # Citations and exports give the app's own address (bannedbook/web/cite.py).
               "--plugin-secret", "bannedbook", "base_url", f"https://{app}.fly.dev"]
    if generate_dir:
        command += ["--generate-dir", str(generate_dir)]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bannedbook publish", description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--app", required=True, help="the Fly app (its URL is https://APP.fly.dev/)")
    parser.add_argument("--generate-dir", type=Path, help="write the deployment files here instead of deploying")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, named_bannedbook(args.db) as db:
        plugins, wheel = stage_plugins(Path(folder))
        return subprocess.run(publish_command(db, args.app, plugins, wheel, args.generate_dir)).returncode


if __name__ == "__main__":
    sys.exit(main())
