"""What a process pays for at start-up: heavy libraries that only some requests use are
imported where they are used, so that the web server, the worker and beat start fast (a
restart of `make run` is timed in .ci/first-run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Imported only by the views and tasks that make a PDF.
LAZY = ("reportlab",)


def test_start_up_does_not_import_the_pdf_library() -> None:
    script = (
        "import sys, django\n"
        "django.setup()\n"
        "from django.urls import resolve\n"
        "resolve('/healthz')\n"  # loads the whole URLconf: every view, the admin, the API
        "import oms.celery\n"
        f"print(','.join(m for m in {LAZY!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "oms.settings", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at start-up: {result.stdout.strip()}"
