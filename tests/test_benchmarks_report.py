"""docs/benchmarks.md is written from the benchmarks' result files and shows
the present: the targets of results measured on the current package only,
one section per benchmark and size, unique headings; and `make bench` fails
when a benchmark misses a target."""

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
REPORT = BENCHMARKS / "report.py"
OLD_TREE = "0" * 40  # a package tree no checkout has: the code measured has changed since
OLD_COMMIT = "1234567890abcdef1234567890abcdef12345678"


@pytest.fixture(scope="module")
def bench():
    """The benchmarks' own modules, for this file only: benchmarks/ is on the
    path while they are imported, then taken off, so no other test can
    import from it."""
    names = ("common", "run")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return SimpleNamespace(**{name: importlib.import_module(name) for name in names})
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in names:
            sys.modules.pop(name, None)


def result(name, pages, tables, targets, date, code):
    return {"name": name, "title": f"The {name} benchmark", "pages": pages,
            "command": f"python benchmarks/{name}.py --flag {pages}", "date": date,
            "machine": {"cpu": "Test CPU", "cores": 2, "load_average": [1.5, 1.0, 0.5]},
            "tables": tables, "notes": [f"a note on {name}"], "targets": targets, **code}


def write(folder, file, data):
    folder.mkdir(exist_ok=True)
    (folder / file).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def report(results, out):
    return subprocess.run([sys.executable, str(REPORT), "--results", str(results), "--out", str(out)],
                          capture_output=True, text=True)


def headings(text):
    return [line for line in text.splitlines() if line.startswith("#")]


def part(text, title):
    """The lines of a `## title` part of the page, up to the next `## `."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def table_rows(text):
    """The cells of each row (below the header) of the Markdown tables in text."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


def test_report_has_every_table_command_date_and_missed_target(tmp_path, bench):
    now = bench.common.measured_code()
    results = tmp_path / "results"
    # Named so that file order and report order differ: build comes first.
    write(results, "a-search-20k.json", result(
        "search", 20000,
        [bench.common.table("Recall by kind", ["kind", "recall"], [["1-char", 1.0], ["or", 0.75]]),
         bench.common.table("Latency (ms)", ["request", "p50"], [["search", 12345.6]])],
        [bench.common.target("recall, all queries", 0.75, 1.0, at_most=False),
         bench.common.target("search ÷ instr", 0.2, 0.05, gated=False)],
        "2026-11-30T10:00:00+00:00", now))
    write(results, "z-build-20k.json", result(
        "build", 20000, [bench.common.table("Build", ["", "seconds"], [["full build", 99.5]])],
        [bench.common.target("peak RSS (MB)", 200, 500)], "2026-11-29T09:00:00+00:00", now))
    out = tmp_path / "benchmarks.md"
    done = report(results, out)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")

    for title in ("Recall by kind", "Latency (ms)", "Build"):
        assert f"**{title}**" in text
    assert "| kind | recall |\n| --- | --- |\n| 1-char | 1.0 |\n| or | 0.75 |" in text
    assert "| search | 12,345.6 |" in text
    assert "| full build | 99.5 |" in text
    assert "`python benchmarks/search.py --flag 20000`" in text
    assert "`python benchmarks/build.py --flag 20000`" in text
    assert "2026-11-30T10:00:00+00:00" in text and "2026-11-29T09:00:00+00:00" in text
    assert "Test CPU, 2 cores" in text and "load average 1.5, 1, 0.5" in text
    assert "- MISSED: recall, all queries: 0.75 (target >= 1.0)" in text
    assert "- missed (reported, not gated): search ÷ instr" in text
    assert "- met: peak RSS (MB): 200 (target <= 500)" in text
    assert "- a note on search" in text
    assert text.index("### The build benchmark, 20,000 pages") < text.index("### The search benchmark, 20,000 pages")
    assert "## Older results" not in text
    # The same files give the same page.
    assert report(results, tmp_path / "again.md").returncode == 0
    assert (tmp_path / "again.md").read_text(encoding="utf-8") == text


def test_report_shows_only_the_current_code_in_its_targets(tmp_path, bench):
    results = tmp_path / "results"
    build_table = bench.common.table("Build", ["", "seconds"], [["full build", 60.5]])
    # A result saved as a benchmark saves it: measured on this checkout's package.
    bench.common.save("build", "The build benchmark", [build_table], ["now"],
                      [bench.common.target("full build ÷ parse", 3.0, 2.5)], pages=20000,
                      out=results / "build-20k.json")
    saved = json.loads((results / "build-20k.json").read_text(encoding="utf-8"))
    older = {"commit": OLD_COMMIT, "package": OLD_TREE}
    # The same benchmark and size on older code, measured later: its figures must not show.
    write(results, "build-before-20k.json", result(
        "build", 20000, [bench.common.table("Build", ["", "seconds"], [["full build", 77777.7]])],
        [bench.common.target("full build ÷ parse", 98765.4, 2.5)], "2999-01-01T00:00:00+00:00", older))
    # Only measured on older code: listed apart, its missed target not in the table.
    write(results, "pages-20k.json", result(
        "pages", 20000, [], [bench.common.target("home page ÷ article page", 5.5, 2)],
        "2026-11-01T00:00:00+00:00", older))
    # Two sizes that only the file names tell apart, and no code recorded.
    for size in ("18k", "91k"):
        write(results, f"lexicon-{size}.json", result(
            "lexicon", None, [], [bench.common.target(f"lexicon at {size} (s)", 1, 60)],
            "2026-11-01T00:00:00+00:00", {}))
    out = tmp_path / "benchmarks.md"
    done = report(results, out)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")

    assert len(headings(text)) == len(set(headings(text))), headings(text)
    # One section per benchmark and size: the current build, not the older one measured after it.
    assert headings(text).count("### The build benchmark, 20,000 pages") == 1
    assert "77,777.7" not in text and "98,765.4" not in text
    assert "| full build | 60.5 |" in part(text, "Current results")
    rows = table_rows(part(text, "Targets"))
    assert [row[:5] for row in rows] == [["[build 20k](#the-build-benchmark-20000-pages)", "full build ÷ parse",
                                          "3.0", "<= 2.5", "MISSED"]]
    assert rows[0][5].removesuffix("+") == saved["commit"][:7]
    older_part = part(text, "Older results")
    assert "### The pages benchmark, 20,000 pages" in older_part
    assert "- Code: 1234567; the package has changed since" in older_part
    assert "- MISSED: home page ÷ article page: 5.5 (target <= 2)" in older_part
    assert "### The lexicon benchmark, 18k" in older_part and "### The lexicon benchmark, 91k" in older_part
    assert not any(OLD_COMMIT[:7] in heading for heading in headings(text))


def test_nothing_current_says_so(tmp_path, bench):
    results = tmp_path / "results"
    write(results, "pages-20k.json", result(
        "pages", 20000, [], [bench.common.target("home page ÷ article page", 5.5, 2)],
        "2026-11-01T00:00:00+00:00", {"commit": OLD_COMMIT, "package": OLD_TREE}))
    done = report(results, tmp_path / "benchmarks.md")
    assert done.returncode == 0, done.stderr
    targets = part((tmp_path / "benchmarks.md").read_text(encoding="utf-8"), "Targets")
    assert "No result was measured on the current package" in targets
    assert table_rows(targets) == []


def test_two_results_under_one_heading_stop_the_report(tmp_path, bench):
    results = tmp_path / "results"
    for name in ("one", "two"):
        data = result(name, 20000, [], [], "2026-11-01T00:00:00+00:00", {})
        write(results, f"{name}-20k.json", {**data, "title": "Same title"})
    done = report(results, tmp_path / "benchmarks.md")
    assert done.returncode != 0
    assert "one-20k.json and two-20k.json would share the heading 'Same title, 20,000 pages'" in done.stderr
    assert not (tmp_path / "benchmarks.md").exists()


def test_committed_results_are_one_file_per_benchmark_and_size_with_their_code(bench):
    for path in sorted((BENCHMARKS / "results").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        pages = data["pages"]
        assert path.name == (f"{data['name']}-{bench.common.size_label(pages)}.json" if pages
                             else f"{data['name']}.json"), path.name
        assert {"commit", "package"} <= data.keys(), path.name
        assert not re.search(r"\bbefore\b|\bcode [0-9a-f]{7}\b", data["title"]), path.name


def test_no_test_imports_a_benchmark():
    # Benchmarks import what they share with the tests from tests/, never the
    # reverse; this file alone loads benchmarks/ (the `bench` fixture), to test it.
    benchmarks = {path.stem for path in BENCHMARKS.glob("*.py")}
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            found += [f"{path.name}: {name}" for name in names if name.split(".")[0] in benchmarks]
    assert found == []


def test_a_benchmark_fails_only_on_a_gated_target(bench):
    common = bench.common
    assert common.finish([common.target("x", 2, 1)]) == 1
    assert common.finish([common.target("x", 0.5, 1, at_most=False)]) == 1
    assert common.finish([common.target("x", 2, 1, gated=False), common.target("y", 1, 1)]) == 0
    assert common.finish([]) == 0


def test_run_goes_on_after_a_failed_benchmark_and_exits_1(bench):
    run = bench.run
    steps = [("benchmarks/build_bench.py", "--raw", "r"), ("benchmarks/search_bench.py", "--db", "d"),
             ("benchmarks/crash.py",)]
    ran = []

    def runner(step):
        ran.append(step)
        return 1 if step[0] == "benchmarks/search_bench.py" else 0

    failed = run.run_all(steps, runner)
    assert ran == steps
    assert failed == [steps[1]]
    assert run.exit_status(failed) == 1
    assert run.exit_status(run.run_all(steps, lambda step: 0)) == 0


def test_plan_runs_every_benchmark_at_each_size(tmp_path, bench):
    steps = bench.run.plan([2000, 5000], tmp_path / "none", tmp_path)
    scripts = [step[0] for step in steps]
    assert all((ROOT / script).is_file() for script in scripts)
    for script in ("build_bench.py", "search_bench.py", "index_variants.py",
                   "pages_bench.py", "load.py", "trends_bench.py", "lexicon_bench.py", "pinyin_bench.py",
                   "stories_bench.py"):
        assert scripts.count(f"benchmarks/{script}") == 2
    assert scripts.count("benchmarks/crash.py") == scripts.count("benchmarks/crawl_bench.py") == 1
    # Per-page figures: the smallest crawl, and the crawl of small pages (one per size for profile_build).
    assert scripts.count("benchmarks/extract_bench.py") == 2
    assert scripts.count("benchmarks/profile_build.py") == 3
    # The small pages are made with --small, built by the first build_bench and measured under their own names.
    (made,) = [step for step in steps if step[0] == "tests/helpers/corpus.py" and "--small" in step]
    small = made[made.index("--out") + 1]
    first, second = [step for step in steps if step[0] == "benchmarks/build_bench.py"]
    assert first[first.index("--small") + 1] == small and "--small" not in second
    assert scripts.index("tests/helpers/corpus.py") < scripts.index("benchmarks/build_bench.py")
    for name in ("extract_small", "profile_build_small"):
        (step,) = [step for step in steps if name in step]
        assert step[step.index("--raw") + 1] == small
    assert scripts.count("benchmarks/backfill_bench.py") == 1
    # The 1 GB WARC is made from the largest crawl.
    (warc,) = [step for step in steps if step[0] == "benchmarks/warc_bench.py"]
    assert warc[warc.index("--raw") + 1].endswith("corpus5k")
    assert scripts.count("tests/helpers/corpus.py") == 3  # no crawl exists yet
    assert scripts.index("tests/helpers/corpus.py") < scripts.index("benchmarks/build_bench.py")
    # The larger size's page timings are set beside the smaller's.
    first, second = [step for step in steps if step[0] == "benchmarks/pages_bench.py"]
    assert "--smaller" not in first
    assert second[second.index("--smaller") + 1] == first[first.index("--db") + 1]
