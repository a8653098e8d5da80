"""Import of cycle counts from a CSV file (`sku,location,counted`), previewed then applied.

Invariants this module guards:
- a file is applied whole or not at all: every row is validated first, and the counts are
  written in one transaction, so a row that fails while applying rolls back the others;
- a file with any bad row (unknown SKU or location, not a whole number, negative, the same
  SKU and location twice, a SKU that keeps no stock, a figure below what orders hold) applies
  nothing, and every bad row is reported with its line number;
- applying validates the text again against the current stock (the preview may be stale), and
  every count goes through `stock_count`, so each change writes its movement;
- validation reads in a constant number of queries, whatever the number of rows;
- the back office applies a checked file as a background job (`count_import_start`, run by
  the task `inventory.count_import_job`): the job holds the file's text, applies it in the one
  transaction with its progress told every PROGRESS_EVERY rows, and a worker that dies rolls
  the transaction back and the outbox runs the job again from the start (a count sets a
  figure: applying it twice records nothing more).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q

from inventory.models import Location, Sku, StockLevel
from inventory.services.stock import stock_count
from oms.errors import ValidationFailed
from oms.jobs import job_progress, job_start
from oms.limits import integer_range
from oms.models import BackgroundJob

HEADER = ("sku", "location", "counted")
JOB_TASK = "inventory.count_import_job"
JOB_KIND = "counts_csv"
#: Rows applied between two progress figures of a background apply.
PROGRESS_EVERY = 50
MAX_ROWS = 5000
#: The largest figure an on-hand column holds.
COUNT_MAX = integer_range(StockLevel, "on_hand")[1]


@dataclass
class CountImportRow:
    """One data row of the file; `line` is its line number (the header is line 1)."""

    line: int
    sku_text: str
    location_text: str
    counted_text: str
    sku: Sku | None = None
    location: Location | None = None
    counted: int | None = None
    on_hand: int = 0
    reserved: int = 0
    level_id: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def difference(self) -> int | None:
        return None if self.counted is None else self.counted - self.on_hand


@dataclass
class CountImportPreview:
    rows: list[CountImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # about the file as a whole

    @property
    def bad_rows(self) -> list[CountImportRow]:
        return [row for row in self.rows if not row.ok]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors and not self.bad_rows

    def error_messages(self) -> dict[str, list[str]]:
        """File and row errors keyed `file` and `line N`, as a DomainError's `errors`."""
        messages: dict[str, list[str]] = {}
        if self.errors:
            messages["file"] = list(self.errors)
        for row in self.bad_rows:
            messages[f"line {row.line}"] = list(row.errors)
        return messages


def _read(text: str) -> tuple[list[tuple[int, list[str]]], list[str]]:
    """The data rows of `text` with their line numbers, and the errors about the file."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        return [], ["The file is empty."]
    first_line = text.splitlines()[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = [(reader.line_num, record) for record in reader]
    except csv.Error as exc:
        return [], [f"The file is not valid CSV: {exc}."]
    header_line, header = records[0]
    names = tuple(cell.strip().lower() for cell in header)
    if names != HEADER:
        return [], [
            f"Line {header_line}: the header must be {','.join(HEADER)} "
            f"(found {','.join(header) or 'nothing'})."
        ]
    rows = [(line, record) for line, record in records[1:] if any(c.strip() for c in record)]
    if not rows:
        return [], ["The file has a header but no rows."]
    if len(rows) > MAX_ROWS:
        return [], [f"The file has {len(rows)} rows; import at most {MAX_ROWS} at a time."]
    return rows, []


def _parse_count(text: str) -> tuple[int | None, str | None]:
    value = text.strip()
    if not value:
        return None, "The counted figure is missing."
    try:
        counted = int(value)
    except ValueError:
        return None, f"{value!r} is not a whole number."
    if counted < 0:
        return None, f"The counted figure {counted} is negative."
    if counted > COUNT_MAX:
        return None, f"The counted figure is at most {COUNT_MAX}."
    return counted, None


def _rows(records: list[tuple[int, list[str]]]) -> list[CountImportRow]:
    """The file's data rows, their cells trimmed; a row of the wrong width is refused."""
    rows: list[CountImportRow] = []
    for line, record in records:
        cells = [cell.strip() for cell in record]
        row = CountImportRow(
            line=line,
            sku_text=cells[0] if cells else "",
            location_text=cells[1] if len(cells) > 1 else "",
            counted_text=cells[2] if len(cells) > 2 else "",
        )
        if len(cells) != len(HEADER):
            row.errors.append(f"Expected 3 columns ({','.join(HEADER)}), found {len(cells)}.")
        rows.append(row)
    return rows


def _resolve(rows: list[CountImportRow]) -> None:
    """Find each row's SKU (by code, else barcode) and location, and read its figure; two
    queries whatever the number of rows."""
    sku_values = {row.sku_text for row in rows if row.sku_text}
    location_values = {row.location_text for row in rows if row.location_text}
    by_code: dict[str, Sku] = {}
    by_barcode: dict[str, Sku] = {}
    if sku_values:
        for sku in Sku.objects.filter(Q(code__in=sku_values) | Q(barcode__in=sku_values)):
            by_code[sku.code] = sku
            if sku.barcode:
                by_barcode[sku.barcode] = sku
    locations = {loc.code: loc for loc in Location.objects.filter(code__in=location_values)}

    for row in rows:
        if not row.ok:
            continue
        # A code wins over a barcode that happens to spell another SKU's code.
        row.sku = by_code.get(row.sku_text) or by_barcode.get(row.sku_text)
        row.location = locations.get(row.location_text)
        if not row.sku_text:
            row.errors.append("The SKU is missing.")
        elif row.sku is None:
            row.errors.append(f"Unknown SKU {row.sku_text!r} (neither a code nor a barcode).")
        elif not row.sku.track_inventory:
            row.errors.append(f"SKU {row.sku.code} does not track inventory.")
        if not row.location_text:
            row.errors.append("The location is missing.")
        elif row.location is None:
            row.errors.append(f"Unknown location {row.location_text!r}.")
        row.counted, error = _parse_count(row.counted_text)
        if error:
            row.errors.append(error)


def _check_against_stock(rows: list[CountImportRow]) -> None:
    """Give each resolved row its level's figures (one query) and refuse a SKU and location
    counted twice or a figure below what orders hold (unless the level backorders)."""
    resolved = [
        (row, row.sku, row.location)
        for row in rows
        if row.sku is not None and row.location is not None
    ]
    levels: dict[tuple[int, int], StockLevel] = {}
    if resolved:
        candidates = StockLevel.objects.filter(
            sku_id__in={sku.pk for _, sku, _ in resolved},
            location_id__in={location.pk for _, _, location in resolved},
        ).only("pk", "sku_id", "location_id", "on_hand", "reserved", "allow_backorder")
        levels = {(level.sku_id, level.location_id): level for level in candidates}

    first_line: dict[tuple[int, int], int] = {}
    for row, sku, location in resolved:
        pair = (sku.pk, location.pk)
        level = levels.get(pair)
        backorder = sku.allow_backorder
        if level is not None:
            row.level_id, row.on_hand, row.reserved = level.pk, level.on_hand, level.reserved
            backorder = level.allow_backorder
        if pair in first_line:
            row.errors.append(
                f"{sku.code} at {location.code} is already counted on line {first_line[pair]}."
            )
            continue
        first_line[pair] = row.line
        if row.counted is not None and row.counted < row.reserved and not backorder:
            row.errors.append(
                f"Counted {row.counted}, but {row.reserved} are reserved for orders here: "
                "release or re-route them first."
            )


def count_import_parse(*, text: str) -> CountImportPreview:
    """Validate a counts file against the current stock; writes nothing.

    Three queries whatever the number of rows: SKUs, locations, stock levels.
    """
    records, file_errors = _read(text)
    if file_errors:
        return CountImportPreview(errors=file_errors)
    rows = _rows(records)
    _resolve(rows)
    _check_against_stock(rows)
    return CountImportPreview(rows=rows)


@transaction.atomic
def count_import_apply(
    *, text: str, actor: str, progress: Callable[[int, int], None] | None = None
) -> int:
    """Validate the file again and record every count, all in one transaction.

    Returns the number of counts recorded. Raises ValidationFailed (any bad row: nothing is
    applied; `errors` names the lines), InsufficientStock (a figure fell below what orders hold
    since the check: nothing is applied).
    """
    preview = count_import_parse(text=text)
    if not preview.ok:
        raise ValidationFailed(
            "The file has errors; nothing was applied.",
            code="count_import_invalid",
            errors=preview.error_messages(),
        )
    # Existing levels in primary-key order, then the new ones, as every stock writer locks.
    rows = sorted(
        preview.rows,
        key=lambda r: (r.level_id is None, r.level_id or 0, r.line),
    )
    applied = 0
    for row in rows:
        if row.sku is None or row.location is None or row.counted is None:  # pragma: no cover
            raise ValidationFailed(f"Line {row.line} was not validated.")
        stock_count(
            sku=row.sku,
            location=row.location,
            counted=row.counted,
            reason=f"count import, line {row.line}",
            actor=actor,
        )
        applied += 1
        if progress is not None and (applied % PROGRESS_EVERY == 0 or applied == len(rows)):
            progress(applied, len(rows))
    return applied


def count_import_start(*, text: str, rows: int, user: Any, back_url: str) -> BackgroundJob:
    """Queue the apply of a checked counts file as a background job of `user`."""
    return job_start(
        kind=JOB_KIND,
        title=f"Import of {rows} count{'s' if rows != 1 else ''}",
        user=user,
        task=JOB_TASK,
        input_data=text.encode("utf-8"),
        back_url=back_url,
        total=rows,
    )


def count_import_job_run(job: BackgroundJob) -> dict[str, Any]:
    """The work of a counts job: the file applied whole (a DomainError fails the job)."""

    def progress(done: int, total: int) -> None:
        job_progress(job, done, total)

    applied = count_import_apply(
        text=bytes(job.input_data).decode("utf-8"),
        actor=job.user.get_username(),
        progress=progress,
    )
    return {
        "applied": applied,
        "summary": f"Recorded {applied} count{'s' if applied != 1 else ''} from the file.",
    }
