"""The results of `make bench`: one record per measure, a markdown table and a chart of them.

Not a benchmark (`make bench` skips bench/_*.py), and free of Django: bench/_common.py's
`record()` appends a Result per measure to the JSON-lines file named by BENCH_RESULTS, and
`make bench` then runs this module on that file:
    .venv/bin/python bench/_report.py bench/results/latest.jsonl
which writes bench/results/latest.md (the table, the machine, the database, the date) and
bench/results/latest.png (a horizontal bar per measure: its ratio, the target as a marker).

The ratio is always the measure's speed relative to the baseline measured in the same run (a
plain Django ORM loop: one order, three lines, three stock rows locked and updated in one
transaction; see bench/_common.py): a rate divided by the baseline's rate, or the baseline's
time divided by a time. Above 1 the measure is faster than the baseline, whatever its unit, so
that one chart and one "met?" rule (ratio >= target) serve every measure. The chart needs
matplotlib, installed by `make bench` only (the optional dependency group `bench`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Result:
    """One measure of one benchmark, with the same-run baseline it is compared with.

    `higher_is_better`: the figure is a rate (orders/s), else a time (ms, s). `target`: the
    ratio the issue asks for, if any. `condition`: a further requirement stated in words
    ("memory flat") and whether the run met it (`condition_met`).
    """

    bench: str
    measure: str
    figure: float
    unit: str
    baseline: float
    baseline_unit: str
    higher_is_better: bool
    statements: float | None = None
    target: float | None = None
    condition: str = ""
    condition_met: bool | None = None
    note: str = ""
    database: str = ""
    vendor: str = ""
    elapsed_s: float = 0.0  # seconds since the benchmark script started, when recorded

    @property
    def ratio(self) -> float:
        if self.figure <= 0 or self.baseline <= 0:
            return 0.0
        if self.higher_is_better:
            return self.figure / self.baseline
        return self.baseline / self.figure

    @property
    def met(self) -> bool | None:
        """None when nothing is asked of this measure."""
        if self.target is None and self.condition_met is None:
            return None
        return (self.target is None or self.ratio >= self.target) and (
            self.condition_met is not False
        )

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "ratio": round(self.ratio, 4)}, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def append_result(path: str | Path, result: Result) -> None:
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(result.to_json() + "\n")


def load_results(path: str | Path) -> list[Result]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [Result.from_dict(json.loads(line)) for line in lines if line.strip()]


# --- the table ------------------------------------------------------------------------------


def number(value: float) -> str:
    """Three significant figures at most, thousands separated: 1,234 / 56.7 / 0.123."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def statements_text(value: float | None) -> str:
    """23 for a whole count, 35.0 for a mean over many operations."""
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}" if value >= 1 else f"{value:.2g}"  # 0.04: a few per batch of many


def ratio_text(value: float) -> str:
    return f"{number(value)}x"


def verdict(result: Result) -> str:
    met = result.met
    if met is None:
        return ""
    if met:
        return "met"
    missed = []
    if result.target is not None and result.ratio < result.target:
        missed.append("ratio")
    if result.condition_met is False:
        missed.append(result.condition)
    return f"**not met** ({', '.join(missed)})"


def target_text(result: Result) -> str:
    parts = [f">= {number(result.target)}x"] if result.target is not None else []
    if result.condition:
        parts.append(result.condition)
    return ", ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(results: Sequence[Result]) -> str:
    head = (
        "| benchmark | measure | figure | baseline (same run) | ratio | target | met? "
        "| statements |\n|---|---|---:|---:|---:|---|---|---:|\n"
    )
    rows = []
    for r in results:
        measure = r.measure + (f" ({r.note})" if r.note else "")
        cells = [
            f"`{r.bench}`",
            measure,
            f"{number(r.figure)} {r.unit}",
            f"{number(r.baseline)} {r.baseline_unit}",
            ratio_text(r.ratio),
            target_text(r),
            verdict(r),
            statements_text(r.statements),
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return head + "\n".join(rows) + "\n"


# --- the machine ----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """Cores, memory, processor, OS and Python of this machine (Linux figures where known)."""
    info = {
        "cores": str(os.cpu_count() or "?"),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": platform.processor() or platform.machine(),
        "ram": "?",
    }
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def databases(results: Iterable[Result]) -> list[str]:
    return list(dict.fromkeys(r.database for r in results if r.database)) or ["unknown"]


def markdown(
    results: Sequence[Result],
    *,
    host: dict[str, str],
    when: dt.datetime,
    revision: str = "",
    chart: str = "",
) -> str:
    """The page bench/results/latest.md: what ran where, the table, how to read it."""
    on_sqlite = any(r.vendor == "sqlite" for r in results)
    duration = sum(
        max(r.elapsed_s for r in results if r.bench == bench)
        for bench in dict.fromkeys(r.bench for r in results)
    )
    lines = ["# Benchmark results", ""]
    if on_sqlite:
        lines += [
            "**Measured on SQLite, not on PostgreSQL**: SQLite lets one writer in at a time, "
            "so the concurrent figures say little. PostgreSQL is what these benchmarks are "
            "meant for: `DATABASE_URL=postgres://... make bench`.",
            "",
        ]
    at = f" at commit `{revision}`" if revision else ""
    lines += [
        f"- Run: {when:%Y-%m-%d %H:%M} UTC{at}, by `make bench` (about "
        f"{duration / 60:.0f} min of benchmarks)",
        f"- Database: {', '.join(databases(results))}",
        f"- Machine: {host['cores']} cores ({host['cpu']}), {host['ram']} RAM, {host['os']}",
        f"- Python: {host['python']}",
        "",
        "The ratio is each measure's speed relative to the baseline measured in the same run "
        "(a plain Django ORM loop: one order, three lines, three stock rows locked and updated "
        "in one transaction): a rate divided by the baseline's rate, or the baseline's time "
        "divided by a time. Above 1x the measure is faster than that baseline. The machine "
        "drifts by a third within an hour, so the ratio is what compares across runs. "
        "Statements: SQL statements per operation (BEGIN and COMMIT included) where known.",
        "",
        table(results).rstrip("\n"),
        "",
    ]
    targets = [r for r in results if r.met is not None]
    if targets:
        met = sum(1 for r in targets if r.met)
        lines += [f"Targets met: {met} of {len(targets)}.", ""]
    if chart:
        lines += [f"![Ratio to the same-run baseline per measure]({chart})", ""]
    return "\n".join(lines)


# --- the chart ------------------------------------------------------------------------------


def write_chart(results: Sequence[Result], path: Path, title: str) -> None:
    """Horizontal bars of the ratios on a log scale, the target of a measure as a marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.measure} [{r.bench}]" for r in results]
    ratios = [max(r.ratio, 1e-4) for r in results]
    colours = ["#9aa5b1" if r.met is None else "#2e9e5b" if r.met else "#d64545" for r in results]
    height = 1.2 + 0.34 * len(results)
    fig, ax = plt.subplots(figsize=(11, height))
    positions = range(len(results))
    ax.barh(positions, ratios, color=colours, height=0.7)
    ax.set_xscale("log")
    ax.set_yticks(list(positions), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="#333333", linewidth=1, linestyle="--")
    low, high = min([*ratios, 1.0]), max([*ratios, 1.0])
    ax.set_xlim(low / 3, high * 6)
    for y, (r, value) in enumerate(zip(results, ratios, strict=True)):
        ax.text(value * 1.08, y, ratio_text(r.ratio), va="center", fontsize=7)
        if r.target is not None:
            ax.plot(
                [r.target],
                [y],
                marker="D",
                markersize=7,
                color="black",
                markerfacecolor="white",
                markeredgewidth=1.5,
                zorder=3,
            )
    ax.set_xlabel("speed relative to the same-run baseline (log scale; 1x = baseline, dashed)")
    ax.set_title(title, fontsize=10)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color="#2e9e5b", label="target met"),
            Patch(color="#d64545", label="target not met"),
            Patch(color="#9aa5b1", label="no target"),
            Line2D(
                [],
                [],
                marker="D",
                color="black",
                markerfacecolor="white",
                linestyle="none",
                label="target ratio",
            ),
        ],
        loc="lower right",
        fontsize=7,
    )
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the command ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("results", type=Path, help="the JSON lines the benchmarks wrote")
    parser.add_argument("--markdown", type=Path, default=RESULTS_DIR / "latest.md")
    parser.add_argument("--chart", type=Path, default=RESULTS_DIR / "latest.png")
    args = parser.parse_args(argv)
    results = load_results(args.results)
    if not results:
        print(f"no results in {args.results}", file=sys.stderr)
        return 1
    when = dt.datetime.now(dt.UTC)
    chart = ""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no chart written")
    else:
        title = f"OMS benchmarks on {', '.join(databases(results))}, {when:%Y-%m-%d}"
        write_chart(results, args.chart, title)
        chart = os.path.relpath(args.chart, args.markdown.parent)
        print(f"wrote {args.chart}")
    args.markdown.write_text(
        markdown(results, host=machine(), when=when, revision=commit(), chart=chart),
        encoding="utf-8",
    )
    print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
