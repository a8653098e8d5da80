"""No function or method of the apps is longer than MAX_LINES lines (def line to last line,
decorators excluded): a longer one is split into named steps. Migrations and fakes are
generated or test doubles, so they are left out."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "oms",
    "inventory",
    "orders",
    "fulfilment",
    "returns",
    "subscriptions",
    "channels",
    "reports",
)
SKIPPED_DIRS = {"migrations", "fakes"}
MAX_LINES = 80


def _sources() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts[:-1])
    ]


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_LINES:
                where = path.relative_to(ROOT)
                found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_the_app_sources_are_found():
    sources = _sources()
    assert len(sources) > 50
    assert not any("migrations" in path.parts for path in sources)


def test_no_function_is_longer_than_80_lines():
    too_long = [entry for path in _sources() for entry in _long_functions(path)]
    assert too_long == [], "split these into named steps:\n" + "\n".join(too_long)
