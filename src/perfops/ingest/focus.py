"""FOCUS billing exports (FinOps Open Cost and Usage Specification 1.0-1.2), CSV or Parquet.

AWS (Data Exports, FOCUS 1.0), Azure (Cost Management "FOCUS cost"), Google Cloud (BigQuery FOCUS
view) and OCI export the same columns; perfops reads:

* the cost: `EffectiveCost` where the file has it (it amortises upfront and recurring commitment
  purchases over the usage they cover, so a one-year reservation does not show as a spike on the
  day it was bought), else `BilledCost` (what the invoice says). `cost.column` in perfops.yaml
  picks one explicitly;
* `ChargePeriodStart` / `ChargePeriodEnd` (ISO 8601, inclusive start, exclusive end): a period of
  up to a day keeps its resolution; a longer one is spread over its UTC days (see ingest._cost);
* `ChargeCategory`: Usage and Purchase count as a service's spend by default; Tax, Credit and
  Adjustment rows are counted and totalled in a note (`cost.charge_categories` changes that);
* `BillingCurrency` must be the catalog's `currency`; a row in another currency is refused;
* `ServiceName`, `ResourceId`, `ResourceName`, `Tags` (a JSON object; provider `x_` columns are
  looked up as tags too) feed the `cost.match` rules that give a row to a service. Spend no rule
  takes is "unallocated": counted, totalled and named in a note, never stored under a service.

Spec: https://focus.finops.org (columns ChargePeriodStart, BilledCost, EffectiveCost,
ChargeCategory, Tags); conformance data: FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec
`specification/data/`. Format page: docs/formats/focus.md.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perfops.errors import InputError
from perfops.ingest._cost import DAY, MAX_SPREAD_DAYS, CostTally
from perfops.ingest._series import Problems
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import range_text
from perfops.model.cost_settings import CHARGE_CATEGORIES

REQUIRED = ("ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BilledCost")
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_NULLS = ("", "null", "NULL", "None")
_MAX_SKIPS_LISTED = 1000
MAP_HINT = "add cost.match rules to perfops.yaml (docs/catalog.md) or pass --service"


def _header_of(head: bytes) -> list[str]:
    text = head.decode("utf-8-sig", errors="replace")
    first = text.splitlines()[0] if text else ""
    return next(csv.reader([first]), [])


def sniff(path: Path, head: bytes) -> bool:
    if head[:4] == b"PAR1":
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
    else:
        names = {c.strip() for c in _header_of(head)}
    return {"BilledCost", "ChargePeriodStart"} <= names


# ---- rows ---------------------------------------------------------------------------------------
_UNREADABLE = (UnicodeDecodeError, csv.Error, OSError, EOFError, zlib.error)


def _unreadable(path: Path, line: int, exc: Exception) -> InputError:
    what = ("not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else
            "not a readable gzip file" if isinstance(exc, OSError | EOFError | zlib.error) else f"not valid CSV ({exc})")
    return InputError(f"{what}; a FOCUS export is UTF-8 CSV (optionally gzip) or Parquet", path=str(path), line=line)


def _csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
    # not a `with`: the handle outlives this call, closed by rows() or on a bad header
    handle = (gzip.open(path, "rt", encoding="utf-8-sig", newline="") if gz  # noqa: SIM115
              else path.open(encoding="utf-8-sig", newline=""))
    reader = csv.reader(handle)
    try:
        header = [c.strip() for c in next(reader, [])]
    except _UNREADABLE as exc:
        handle.close()
        raise _unreadable(path, 1, exc) from exc

    def rows() -> Iterator[tuple[int, list[Any]]]:
        with handle:
            try:
                for row in reader:
                    if row and any(cell.strip() for cell in row):
                        yield reader.line_num, row
            except _UNREADABLE as exc:
                raise _unreadable(path, reader.line_num + 1, exc) from exc

    return header, rows()


def _parquet_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    header = list(file.schema_arrow.names)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        n = 0
        for batch in file.iter_batches(batch_size=65536):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for values in zip(*columns, strict=True):
                n += 1
                yield n, list(values)

    return header, rows()


# ---- cells --------------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in _NULLS else text


def _moment(value: Any) -> datetime:
    """An ISO 8601 date-time (Z, offset or none = UTC), or a typed timestamp, as naive UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = _text(value)
        if text is None:
            raise ValueError("is empty; FOCUS requires a date-time here")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{text}' is not an ISO 8601 date-time; FOCUS requires UTC date-times like "
                             "2024-01-01T00:00:00Z") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _amount(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = _text(value)
        if text is None:
            raise ValueError("is empty; FOCUS requires a number here (it may not be null)")
        if not _NUMBER.match(text):
            raise ValueError(f"'{text}' is not a plain decimal number; FOCUS requires e.g. 10000.00 "
                             "(no currency symbol or thousands separator)")
        number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"'{value}' is not a finite number")
    return number


def _tags(value: Any, row: dict[str, Any]) -> dict[str, str]:
    """The Tags object (JSON text, or a Parquet map; keys to text, a valueless tag is 'true'), plus
    every x_ column."""
    tags: dict[str, str] = {}
    if isinstance(value, list):  # a Parquet map column: [(key, value), ...]
        value = {str(k): v for k, v in (p.values() if isinstance(p, dict) else p for p in value)}
    raw = value if isinstance(value, dict) else _text(value)
    if raw is not None:
        try:
            parsed = raw if isinstance(raw, dict) else json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"'{str(raw)[:80]}' is not a JSON object of tags") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"'{str(raw)[:80]}' is not a JSON object of tags")
        for key, tag in parsed.items():
            if tag is not None:
                tags[str(key)] = "true" if tag is True else ("false" if tag is False else str(tag))
    for key, cell in row.items():
        if key.startswith("x_") and (text := _text(cell)) is not None:
            tags.setdefault(key, text)
    return tags


# ---- reading ------------------------------------------------------------------------------------
def cost_column(header: list[str], configured: str | None, path: Path) -> str:
    """EffectiveCost where present (amortised), else BilledCost; or the column perfops.yaml names."""
    if configured:
        if configured not in header:
            raise InputError(f"cost.column names {configured}, which this file does not have; "
                             f"its columns are {', '.join(header[:40])}", path=str(path), line=1)
        return configured
    return "EffectiveCost" if "EffectiveCost" in header else "BilledCost"


def read(path: Path, options: IngestOptions) -> IngestBatch:
    header, rows = _parquet_rows(path) if _is_parquet(path) else _csv_rows(path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"a FOCUS export needs the columns {', '.join(REQUIRED)}; missing {', '.join(missing)}",
                         path=str(path), line=1, hint="see docs/formats/focus.md")
    column = cost_column(header, options.catalog.cost.column, path)
    problems = Problems(str(path), options.skip_bad_rows)
    tally = CostTally(options.catalog.currency, latest=options.latest)
    reader = _RowReader(header, column, options)
    unlisted = 0
    for line, values in rows:
        try:
            reader.read(values, tally)
        except _RowProblem as bad:
            if len(problems.skipped) < _MAX_SKIPS_LISTED or not options.skip_bad_rows:
                problems.report(bad.message, field=bad.field, line=line)
            else:
                unlisted += 1
    notes = [f"spend read from {column}" + (" (amortised: commitment purchases spread over the usage they cover)"
                                            if column == "EffectiveCost" else " (as invoiced)")]
    warnings = tally.warnings(MAP_HINT)
    if unlisted:
        warnings.append(f"{unlisted} more bad row(s) skipped beyond the {_MAX_SKIPS_LISTED} listed")
    return IngestBatch(telemetry=tally.frame(), skipped=problems.skipped,
                       notes=[*notes, *(DataWarning(w) for w in warnings)])


class _RowProblem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


_CACHE_LIMIT = 200_000  # distinct date-times or resources remembered; billing rows repeat both


class _RowReader:
    """One row at a time, by column index; parsed date-times and each resource's service are
    remembered, since a billing export repeats the same hours and resources many times."""

    def __init__(self, header: list[str], column: str, options: IngestOptions) -> None:
        self.index = {name: i for i, name in enumerate(header)}
        self.x_columns = [(name, i) for name, i in self.index.items() if name.startswith("x_")]
        self.column, self.options = column, options
        self.counted = set(options.catalog.cost.charge_categories)
        self.moments: dict[Any, datetime] = {}
        self.owners: dict[tuple[Any, ...], tuple[str | None, str]] = {}

    def get(self, values: list[Any], name: str) -> Any:
        i = self.index.get(name)
        return values[i] if i is not None and i < len(values) else None

    def moment(self, values: list[Any], name: str) -> datetime:
        raw = self.get(values, name)
        found = self.moments.get(raw) if isinstance(raw, str) else None
        if found is None:
            try:
                found = _moment(raw)
            except ValueError as exc:
                raise _RowProblem(name, str(exc)) from None
            if isinstance(raw, str):
                if len(self.moments) > _CACHE_LIMIT:
                    self.moments.clear()
                self.moments[raw] = found
        return found

    def read(self, values: list[Any], tally: CostTally) -> None:
        start, end = self.moment(values, "ChargePeriodStart"), self.moment(values, "ChargePeriodEnd")
        if end < start:
            raise _RowProblem("ChargePeriodEnd", f"{end:%Y-%m-%dT%H:%M:%SZ} is before ChargePeriodStart "
                                                 f"{start:%Y-%m-%dT%H:%M:%SZ}")
        if end - start > MAX_SPREAD_DAYS * DAY:
            raise _RowProblem("ChargePeriodEnd", f"a charge period of {(end - start).days} days is not plausible")
        if tally.latest is not None and start >= tally.latest:  # a period that began after now: a wrong year
            raise _RowProblem("ChargePeriodStart", f"{start:%Y-%m-%dT%H:%M:%SZ} is outside "
                                                   f"{range_text(tally.latest)}; expected the time of a charge")
        try:
            amount = _amount(self.get(values, self.column))
        except ValueError as exc:
            raise _RowProblem(self.column, str(exc)) from None
        category = _text(self.get(values, "ChargeCategory"))
        if category not in CHARGE_CATEGORIES:
            raise _RowProblem("ChargeCategory", f"'{category or ''}' is not a FOCUS charge category; expected one "
                                                f"of {', '.join(CHARGE_CATEGORIES)}")
        currency = _text(self.get(values, "BillingCurrency"))
        expected = self.options.catalog.currency
        if currency is not None and currency != expected:
            raise _RowProblem("BillingCurrency", f"'{currency}' differs from the catalog's currency {expected}; "
                                                 "perfops does not convert currencies (set currency: in perfops.yaml, "
                                                 "or export in that currency)")
        if category not in self.counted:
            tally.excluded(category, amount)
            return
        service, label = self.owner(values)
        if service is None:
            tally.unallocated(label, amount)
        else:
            tally.add(service, start, end, amount)

    def owner(self, values: list[Any]) -> tuple[str | None, str]:
        """(the service of the row's resource, or None; the name to list it under if unallocated)."""
        texts = [_text(self.get(values, n)) for n in ("ResourceId", "ResourceName", "ServiceName")]
        raw_tags = self.get(values, "Tags")
        key = (json.dumps(raw_tags, sort_keys=True, default=str) if isinstance(raw_tags, dict | list) else raw_tags,
               *texts, *(values[i] if i < len(values) else None for _, i in self.x_columns))
        found = self.owners.get(key)
        if found is None:
            rid, rname, sname = texts
            row = {name: values[i] for name, i in self.x_columns if i < len(values)}
            try:
                tags = _tags(raw_tags, row)
            except ValueError as exc:
                raise _RowProblem("Tags", str(exc)) from None
            fields = {"resource_id": rid, "resource_name": rname, "service_name": sname, "name": rname}
            service = self.options.service or self.options.catalog.cost.service_for(fields, tags)
            found = (service, sname or rid or rname or "")
            if len(self.owners) > _CACHE_LIMIT:
                self.owners.clear()
            self.owners[key] = found
        return found


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as raw:
        return raw.read(4) == b"PAR1"


READER = Reader(
    name="focus",
    description="FOCUS billing export (FinOps cost and usage, CSV or Parquet): cost per service by cost.match rules",
    sniff=sniff,
    read=read,
    priority=15,
)
