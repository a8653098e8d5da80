"""Wait until the development web server answers, then exit (used by Procfile.dev).

`make run` starts the web server, the Celery worker and beat at once. On two cores, three
Python processes importing Django together each start slower; the worker and beat run this
first so that the back office answers as soon as it can, and they follow once it does.

Usage: python scripts/wait_for_web.py URL [TIMEOUT_SECONDS]
Any HTTP answer counts (a 503 of /healthz too: the worker is what makes it healthy); after
TIMEOUT_SECONDS (default 60) it gives up waiting and exits 0 all the same, so the worker and
beat always start. Standard library only: it must not pay for importing Django.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # the server answered, if not with 200
    except (OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    url, timeout = argv[1], float(argv[2]) if len(argv) == 3 else 60.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(url):
            return 0
        time.sleep(0.25)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
