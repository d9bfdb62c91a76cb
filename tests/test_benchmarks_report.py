"""docs/benchmarks.md is written from the benchmarks' result files, and
`make bench` fails when a benchmark misses a target."""

import json
import subprocess
import sys
from pathlib import Path

import common
import run

ROOT = Path(__file__).resolve().parent.parent


def result(name, pages, tables, targets, date):
    return {"name": name, "title": f"The {name} benchmark", "pages": pages,
            "command": f"python benchmarks/{name}.py --flag {pages}", "date": date,
            "machine": {"cpu": "Test CPU", "cores": 2, "load_average": [1.5, 1.0, 0.5]},
            "tables": tables, "notes": [f"a note on {name}"], "targets": targets}


def test_report_has_every_table_command_date_and_missed_target(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    # Named so that file order and report order differ: build comes first.
    (results / "a-search-20k.json").write_text(json.dumps(result(
        "search", 20000,
        [common.table("Recall by kind", ["kind", "recall"], [["1-char", 1.0], ["or", 0.75]]),
         common.table("Latency (ms)", ["request", "p50"], [["search", 12345.6]])],
        [common.target("recall, all queries", 0.75, 1.0, at_most=False),
         common.target("search ÷ instr", 0.2, 0.05, gated=False)],
        "2026-11-30T10:00:00+00:00"), ensure_ascii=False), encoding="utf-8")
    (results / "z-build-20k.json").write_text(json.dumps(result(
        "build", 20000, [common.table("Build", ["", "seconds"], [["full build", 99.5]])],
        [common.target("peak RSS (MB)", 200, 500)], "2026-11-29T09:00:00+00:00")), encoding="utf-8")
    out = tmp_path / "benchmarks.md"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), "--results", str(results),
                           "--out", str(out)], capture_output=True, text=True)
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
    assert text.index("## The build benchmark, 20,000 pages") < text.index("## The search benchmark, 20,000 pages")
    # The same files give the same page.
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), "--results", str(results),
                    "--out", str(tmp_path / "again.md")], check=True, capture_output=True)
    assert (tmp_path / "again.md").read_text(encoding="utf-8") == text


def test_a_benchmark_fails_only_on_a_gated_target():
    assert common.finish([common.target("x", 2, 1)]) == 1
    assert common.finish([common.target("x", 0.5, 1, at_most=False)]) == 1
    assert common.finish([common.target("x", 2, 1, gated=False), common.target("y", 1, 1)]) == 0
    assert common.finish([]) == 0


def test_run_goes_on_after_a_failed_benchmark_and_exits_1():
    steps = [("build_bench.py", "--raw", "r"), ("search_bench.py", "--db", "d"), ("crash.py",)]
    ran = []

    def runner(step):
        ran.append(step)
        return 1 if step[0] == "search_bench.py" else 0

    failed = run.run_all(steps, runner)
    assert ran == steps
    assert failed == [steps[1]]
    assert run.exit_status(failed) == 1
    assert run.exit_status(run.run_all(steps, lambda step: 0)) == 0


def test_plan_runs_every_benchmark_at_each_size(tmp_path):
    steps = run.plan([2000, 5000], tmp_path / "none", tmp_path)
    scripts = [step[0] for step in steps]
    for script in ("build_bench.py", "profile_build.py", "search_bench.py", "index_variants.py",
                   "pages_bench.py", "load.py"):
        assert scripts.count(script) == 2
    assert scripts.count("crash.py") == scripts.count("crawl_bench.py") == 1
    # The 1 GB WARC is made from the largest crawl.
    (warc,) = [step for step in steps if step[0] == "warc_bench.py"]
    assert warc[warc.index("--raw") + 1].endswith("corpus5k")
    assert scripts.count("corpus.py") == 2  # neither crawl exists yet
    assert scripts.index("corpus.py") < scripts.index("build_bench.py")
    # The larger size's page timings are set beside the smaller's.
    first, second = [step for step in steps if step[0] == "pages_bench.py"]
    assert "--smaller" not in first
    assert second[second.index("--smaller") + 1] == first[first.index("--db") + 1]
