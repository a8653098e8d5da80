"""The embedded Celery broker of `make run`: Kombu's filesystem transport, made safe for several
producers and consumers on one folder.

Kombu's own `filesystem` transport writes a message straight into its final `*.msg` file (so a
consumer can read it half-written and die of a JSONDecodeError), claims a file with
`shutil.move` into the system temporary folder (a copy and a delete when that is another
filesystem, so two consumers can both get the message), and lets any unreadable file crash the
worker. This transport keeps its options, its folder layout, its file names and its exchange
tables, and changes how a message file is written and taken.

Invariants:
- A file appears in the queue folder only complete: `_put` writes it under `<data_folder_out>/tmp/`
  and `os.replace`s it into the queue folder, on the same filesystem, so the rename is atomic.
- Each message file is taken by exactly one consumer: a consumer claims a file by an atomic
  `os.rename` into `<data_folder_in>/claimed/` before reading it; the consumer whose rename fails
  (another one won) moves on to the next file. Nothing is ever copied to another filesystem.
- Messages are taken in file-name order, which is Kombu's (milliseconds of the monotonic clock,
  then a uuid), zero-padded here so that name order stays time order.
- A file that cannot be read or is not a Kombu message is moved to `<data_folder_in>/bad/` and
  logged once (logger `oms.broker`, WARNING, with its name); the consumer goes on with the next
  file. The worker never dies of a bad message.

Not guaranteed: durability across a power loss or a kernel crash (nothing is fsynced; this is the
development broker); a consumer killed between its claim and handing the message to Kombu (a few
system calls) leaves the file in `claimed/`, where nothing redelivers it, and a producer killed
mid-write leaves a partial file in `tmp/`, which nothing reads. Once handed over, an
unacknowledged message is restored by Kombu's virtual transport as with any other transport.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from queue import Empty
from time import monotonic
from typing import Any, ClassVar

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

logger = logging.getLogger("oms.broker")

#: Folders this transport adds inside the data folders. Their names hold no dot, so neither this
#: transport nor Kombu's `_size`/`_purge` take them for a message (`<stamp>_<uuid>.<queue>.msg`).
TMP_FOLDER = "tmp"
CLAIMED_FOLDER = "claimed"
BAD_FOLDER = "bad"


def extra_folders(data_folder_in: str, data_folder_out: str) -> list[str]:
    """The folders this transport needs besides Kombu's, derived from the data folders."""
    return [
        os.path.join(data_folder_out, TMP_FOLDER),
        os.path.join(data_folder_in, CLAIMED_FOLDER),
        os.path.join(data_folder_in, BAD_FOLDER),
    ]


class Channel(filesystem.Channel):
    """A filesystem channel whose messages are written, then renamed; claimed by a rename."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Kombu asks for its folders to exist beforehand; ours are derived, so they are made here.
        for folder in extra_folders(self.data_folder_in, self.data_folder_out):
            os.makedirs(folder, exist_ok=True)

    @cached_property
    def tmp_folder(self) -> str:
        return os.path.join(self.data_folder_out, TMP_FOLDER)

    @cached_property
    def claimed_folder(self) -> str:
        return os.path.join(self.data_folder_in, CLAIMED_FOLDER)

    @cached_property
    def bad_folder(self) -> str:
        return os.path.join(self.data_folder_in, BAD_FOLDER)

    # Kombu itself names the argument `message` in AbstractChannel and `payload` here.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put `payload` onto `queue`: written whole under tmp/, then renamed into the queue."""
        filename = f"{round(monotonic() * 1000):015d}_{uuid.uuid4()}.{queue}.msg"
        staged = os.path.join(self.tmp_folder, filename)
        try:
            with open(staged, "xb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(staged, os.path.join(self.data_folder_out, filename))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            raise ChannelError(f"Cannot add file {filename!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """Take the next message of `queue`, or raise Empty."""
        wanted = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            source = os.path.join(self.data_folder_in, filename)
            claimed = os.path.join(self.claimed_folder, filename)
            try:
                os.rename(source, claimed)
            except FileNotFoundError:
                # Another consumer claimed it first. (Should our claimed/ folder have been removed,
                # the file is still there: make the folder again so the next poll can claim it.)
                if os.path.lexists(source):
                    os.makedirs(self.claimed_folder, exist_ok=True)
                continue
            except OSError:
                continue
            try:
                with open(claimed, "rb") as f:
                    payload = loads(bytes_to_str(f.read()))
                # What Kombu will build from it; failing here keeps the failure out of the worker.
                self.Message(payload, channel=self)
            except Exception as exc:  # any unreadable file, whatever the reason, must not kill us
                self._set_aside(claimed, filename, exc)
                continue
            self._dispose(claimed, filename)
            return payload
        raise Empty()

    def _set_aside(self, claimed: str, filename: str, exc: Exception) -> None:
        bad = os.path.join(self.bad_folder, filename)
        try:
            os.replace(claimed, bad)
        except OSError:
            # It stays in claimed/, which no consumer reads: it is still out of the way.
            bad = claimed
        logger.warning(
            "Unreadable broker message %s set aside in %s: %s: %s",
            filename,
            os.path.dirname(bad),
            type(exc).__name__,
            exc,
        )

    def _dispose(self, claimed: str, filename: str) -> None:
        try:
            if self.store_processed:
                shutil.move(claimed, os.path.join(self.processed_folder, filename))
            else:
                os.unlink(claimed)
        except OSError as exc:
            # The message is read and goes on; a file left in claimed/ is never read again.
            logger.warning("Cannot clear claimed broker message %s: %s", filename, exc)


class Transport(filesystem.Transport):
    """Kombu's filesystem transport with the atomic `Channel` above."""

    Channel = Channel
    #: Declared exchanges and bindings, per control folder. Kombu keeps one state per process, so
    #: a second set of folders in the same process (a test's, another app's) would be taken as
    #: already bound, its exchange table never written, and its messages dropped as unroutable.
    states: ClassVar[dict[str, virtual.BrokerState]] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        control_folder = client.transport_options.get("control_folder", "control")
        self.state = self.states.setdefault(os.path.abspath(control_folder), virtual.BrokerState())
