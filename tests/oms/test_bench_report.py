"""`make bench`'s report writer (bench/_report.py) turns result records into the published table.

No benchmark runs here: a few made-up records go through the JSON lines file and come out as
markdown rows with the right ratio (always "faster than the baseline" above 1, whether the
figure is a rate or a time) and the right verdict. The chart needs matplotlib, which only
`make bench` installs; its test is skipped without it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load_report():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("_bench_report", BENCH / "_report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


report = _load_report()
Result = report.Result

HOST = {"cores": "2", "cpu": "Test CPU", "ram": "24.0 GiB", "os": "Linux 6", "python": "3.11.9"}
WHEN = dt.datetime(2026, 12, 7, 6, 30, tzinfo=dt.UTC)
PG = {"database": "PostgreSQL 15.20", "vendor": "postgresql"}


def fake_results() -> list:
    return [
        # A rate against the baseline's rate: 40 / 80 = 0.5x, target 0.4x: met.
        Result(
            bench="orders_api",
            measure="POST /api/v1/orders/, 4 clients",
            figure=40.0,
            unit="orders/s",
            baseline=80.0,
            baseline_unit="tx/s (4 processes)",
            higher_is_better=True,
            statements=23,
            target=0.4,
            elapsed_s=120.0,
            **PG,
        ),
        # A time against the baseline's time: 2 ms / 10 ms = 0.2x, target 1.0x: not met.
        Result(
            bench="routing",
            measure="order_route (p50)",
            figure=10.0,
            unit="ms",
            baseline=2.0,
            baseline_unit="ms (p50, 1 connection)",
            higher_is_better=False,
            statements=15,
            target=1.0,
            elapsed_s=300.0,
            **PG,
        ),
        # Fast enough, but the memory grew: not met, and the table says why.
        Result(
            bench="channels_sync",
            measure="channel sync, 10,000 orders",
            figure=150.0,
            unit="orders/s",
            baseline=100.0,
            baseline_unit="tx/s (1 connection)",
            higher_is_better=True,
            statements=35.04,
            target=1.0,
            condition="memory flat",
            condition_met=False,
            elapsed_s=600.0,
            **PG,
        ),
        # No target, no statement count: empty cells.
        Result(
            bench="labels",
            measure="labels_buy (p50)",
            figure=4.0,
            unit="ms",
            baseline=8.0,
            baseline_unit="ms (p50, 1 connection)",
            higher_is_better=False,
            elapsed_s=60.0,
            **PG,
        ),
    ]


def rows(text: str) -> dict[str, list[str]]:
    """The table's rows by measure: their cells, stripped."""
    found = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            found[cells[1]] = cells
    return found


def test_records_survive_the_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "latest.jsonl"
    for result in fake_results():
        report.append_result(path, result)
    assert report.load_results(path) == fake_results()


def test_the_table_has_ratio_target_and_verdict() -> None:
    text = report.markdown(fake_results(), host=HOST, when=WHEN, revision="abc1234")
    table = rows(text)
    api = table["POST /api/v1/orders/, 4 clients"]
    assert api == [
        "`orders_api`",
        "POST /api/v1/orders/, 4 clients",
        "40.0 orders/s",
        "80.0 tx/s (4 processes)",
        "0.50x",
        ">= 0.40x",
        "met",
        "23",
    ]
    route = table["order_route (p50)"]
    assert route[4:7] == ["0.20x", ">= 1.00x", "**not met** (ratio)"]
    sync = table["channel sync, 10,000 orders"]
    assert sync[4:8] == ["1.50x", ">= 1.00x, memory flat", "**not met** (memory flat)", "35.0"]
    assert report.statements_text(0.0412) == "0.041"
    labels = table["labels_buy (p50)"]
    assert labels[4:8] == ["2.00x", "", "", ""]
    assert "Targets met: 1 of 3." in text
    assert "PostgreSQL 15.20" in text
    assert "2 cores (Test CPU), 24.0 GiB RAM" in text
    assert "2026-12-07 06:30 UTC at commit `abc1234`" in text
    assert "about 18 min of benchmarks" in text  # the longest record of each benchmark, summed
    assert "SQLite" not in text


def test_a_sqlite_run_says_so_in_the_header() -> None:
    on_sqlite = [
        Result(**{**vars(r), "database": "SQLite 3.40.1", "vendor": "sqlite"})
        for r in fake_results()
    ]
    text = report.markdown(on_sqlite, host=HOST, when=WHEN)
    assert text.index("Measured on SQLite, not on PostgreSQL") < text.index("| benchmark |")


def test_a_pipe_in_a_measure_does_not_break_the_table() -> None:
    odd = Result(
        bench="x",
        measure="a | b",
        figure=1.0,
        unit="ms",
        baseline=1.0,
        baseline_unit="ms",
        higher_is_better=False,
    )
    line = report.table([odd]).splitlines()[-1]
    assert "a \\| b" in line
    assert line.count(" | ") == 7


def test_the_chart_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "latest.png"
    report.write_chart(fake_results(), path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
