"""`make publish`: the files `datasette publish fly` generates carry the
metadata, templates, static files, settings and hooks `make serve` uses, and
the image's command serves the archive. No Docker or flyctl here, so the
image is checked as built: its files, and its command run in its folder."""

import json
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from helpers.servers import served

from bannedbook.web.site import METADATA, STATIC, TEMPLATES, cli_args


@pytest.fixture(scope="module")
def generated(seed_db, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("publish")
    db = folder / "bannedbook.db"
    shutil.copy(seed_db, db)
    out = folder / "fly"
    subprocess.run([sys.executable, "-m", "bannedbook.web.publish", str(db), "--app", "bannedbook-test",
                    "--generate-dir", str(out)], cwd=ROOT, check=True, capture_output=True)
    return out


def image_command(generated: Path) -> list[str]:
    (cmd,) = [line for line in (generated / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    return shlex.split(cmd[4:])


def settings(args: list[str]) -> dict[str, str]:
    pairs = {args[i + 1]: args[i + 2] for i, arg in enumerate(args) if arg == "--setting"}
    return {name: {"false": "off", "true": "on"}.get(value.lower(), value) for name, value in pairs.items()}


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_same_settings_and_options_as_make_serve(generated):
    command, serve = image_command(generated), cli_args("bannedbook.db")
    assert settings(command) == settings(serve)
    assert settings(command)  # the settings are there at all
    for option in ("--cors", "--metadata", "--template-dir", "--static"):
        assert option in command and option in serve
    assert "--inspect-file" in command  # made by the image's build (`make serve`: by build_db.py)
    assert command[command.index("-i") + 1] == "bannedbook.db"


def test_same_metadata_templates_and_static_files(generated):
    expected = yaml.safe_load(METADATA.read_text())
    # Plus the app's address for citations, set as a Fly secret (bannedbook/web/cite.py).
    expected["plugins"]["bannedbook"]["base_url"] = {"$env": "BANNEDBOOK_BASE_URL"}
    assert json.loads((generated / "metadata.json").read_text()) == expected
    assert files(generated / "templates") == files(TEMPLATES)
    assert files(generated / "assets") == files(STATIC)
    # The hooks come with the package, not as loose plugin files.
    assert not [name for name in files(generated / "plugins") if name.endswith(".py")]


def test_the_image_installs_the_package_with_its_hooks(generated):
    (install,) = [line for line in (generated / "Dockerfile").read_text().splitlines() if line.startswith("RUN pip")]
    (wheel,) = [generated / arg for arg in install.split() if arg.endswith(".whl")]
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["datasette"]
    entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for name, module in declared.items():
        assert f"{name} = {module}" in entry_points
        assert module.replace(".", "/") + ".py" in names
    metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = {line.split(": ", 1)[1] for line in metadata.splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line}
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert requires == set(pins)


def test_the_image_command_serves_the_archive_like_make_serve(generated, serve):
    subprocess.run([str(Path(sys.executable).with_name("datasette")), "inspect", "bannedbook.db",
                    "--inspect-file", "inspect-data.json"], cwd=generated, check=True, capture_output=True)
    command = [arg.replace("0.0.0.0", "127.0.0.1") for arg in image_command(generated)[:-2]] + ["--port", "{port}"]
    command[0] = str(Path(sys.executable).with_name("datasette"))
    with served(generated / "bannedbook.db", command, cwd=generated) as url:
        local = serve(generated / "bannedbook.db")

        def get(base, path):
            return json.loads(urllib.request.urlopen(base + path, timeout=30).read())

        # Each hook module is listed under the package's name, in no set order.
        plugins = [sorted(get(base, "/-/plugins.json"), key=json.dumps) for base in (url, local)]
        assert plugins[0] == plugins[1]
        assert {hook for plugin in plugins[0] for hook in plugin["hooks"]} >= {"prepare_connection", "render_cell"}
        assert get(url, "/-/settings.json") == get(local, "/-/settings.json")
        search = "/bannedbook/search.json?q=%E7%BF%92%E8%BF%91%E5%B9%B3&_shape=array"
        assert get(url, search) == get(local, search) != []
