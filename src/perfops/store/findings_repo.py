"""Findings and their history: the accountability workflow's storage."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

import duckdb
import pyarrow as pa

from perfops.model.findings import SEVERITIES, Finding

_COLUMNS = (
    "id", "category", "kind", "metric", "severity", "service", "endpoint", "consumer", "squad",
    "start", "end", "title", "detail", "evidence", "recommendation", "impact", "caused_by", "event",
    "status", "first_seen", "last_seen", "finding_key",
)


_TIMES = ("start", "end", "first_seen", "last_seen")
_ROW_SCHEMA = pa.schema([(c, pa.timestamp("us") if c in _TIMES else pa.string()) for c in _COLUMNS])
_HISTORY_SCHEMA = pa.schema([("finding_id", pa.string()), ("at", pa.timestamp("us")), ("action", pa.string()),
                             ("by", pa.string()), ("note", pa.string()), ("from_status", pa.string()),
                             ("to_status", pa.string()), ("squad", pa.string())])


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class FindingFilter:
    squad: str | None = None
    service: str | None = None
    category: str | None = None
    kind: str | None = None
    status: str = "open"  # open | acknowledged | resolved | all
    min_severity: str | None = None


class FindingsRepo:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    # ---- analysis results -------------------------------------------------------
    def save_analysis(self, findings: Iterable[Finding], at: datetime | None = None,
                      horizon: datetime | None = None) -> list[Finding]:
        """Store a run's findings. The same condition keeps its id: matched by id, else by the
        same identity (kind, service, endpoint, consumer, metric) overlapping in time. A resolved
        finding found again is reopened with a history entry, never duplicated, but only on new
        evidence after its resolution (`_new_evidence`; `horizon` = the newest data analysed,
        where an ongoing episode ends); otherwise it stays resolved. An acknowledged one stays
        acknowledged; an assignment to another squad is kept."""
        at = at or _now()
        stored = _StoredFindings(self._fetch("SELECT * FROM findings", []))
        saved, history = [], []
        for finding in findings:
            existing = stored.match(finding)
            if existing is None:
                stored.put(self._row(finding, at, first_seen=at))
                history.append([finding.id, at, "found", "perfops", finding.title, None, "open", finding.squad])
                saved.append(finding)
                continue
            status, squad = existing["status"], existing["squad"]
            reopen = status == "resolved" and self._new_evidence(existing, finding, horizon)
            merged = finding.with_(
                id=existing["id"], status="open" if reopen else status, squad=squad,
                start=_earliest(existing["start"], finding.start),
            )
            if reopen:
                history.append([merged.id, at, "reopened", "perfops", "found again by analysis", "resolved", "open",
                                squad])
            stored.put(self._row(merged, at, first_seen=existing["first_seen"]))
            saved.append(merged)
        self._write(stored.changed(), history)
        return saved

    def _row(self, f: Finding, at: datetime, first_seen: datetime) -> dict[str, Any]:
        row = dict(zip(_COLUMNS, self._values(f, at), strict=True))
        row["first_seen"] = first_seen
        return row

    def _write(self, rows: builtins.list[dict[str, Any]], history: builtins.list[builtins.list[Any]]) -> None:
        """The run's new and changed findings and its history entries, each table in one statement
        (thousands of findings at 1,000 services: one statement each cost seconds)."""
        if rows:
            self._insert_table("INSERT OR REPLACE INTO findings SELECT * FROM {}",
                               pa.Table.from_pylist([{c: row[c] for c in _COLUMNS} for row in rows], schema=_ROW_SCHEMA))
        if history:
            self._insert_table("INSERT INTO finding_history SELECT * FROM {}", pa.Table.from_pylist(
                [dict(zip(_HISTORY_SCHEMA.names, h, strict=True)) for h in history], schema=_HISTORY_SCHEMA))

    def _insert_table(self, sql: str, table: pa.Table) -> None:
        self.con.register("perfops_findings_batch", table)
        try:
            self.con.execute(sql.format("perfops_findings_batch"))
        finally:
            self.con.unregister("perfops_findings_batch")

    def _new_evidence(self, existing: dict[str, Any], found: Finding, horizon: datetime | None) -> bool:
        """Whether `found` has evidence later than the resolution of `existing`.

        The evidence of a finding ends where its episode ends, or at `horizon` (the newest data
        analysed) while the episode is ongoing. The resolution, in data time, is the newest data
        the resolver could have seen (the horizon of the last analysis before the resolution,
        else the stored episode's end or start); once the data reaches the wall-clock moment of
        the resolution (live data), evidence up to that moment is from before the fix too."""
        resolved_at = self._resolved_at(existing["id"])
        if resolved_at is None:
            return True  # resolved before history was kept: trust the analysis
        point = self._horizon_before(resolved_at) or existing["end"] or existing["start"]
        if horizon is not None and _naive(horizon) >= resolved_at:
            point = max(point, resolved_at) if point is not None else resolved_at
        evidence = _naive(found.end) or _naive(horizon) or _naive(found.start)
        return point is None or (evidence is not None and evidence > point)

    def _resolved_at(self, finding_id: str) -> datetime | None:
        rows = self._fetch("SELECT max(\"at\") AS at FROM finding_history WHERE finding_id = ? AND action = 'resolved'",
                           [finding_id])
        return rows[0]["at"] if rows else None

    def _horizon_before(self, moment: datetime) -> datetime | None:
        rows = self._fetch("SELECT max(period_end) AS h FROM analysis_runs WHERE \"at\" <= ?", [moment])
        return rows[0]["h"] if rows else None

    def _values(self, f: Finding, at: datetime) -> list[Any]:
        rec = f.to_record()
        return [
            f.id, rec["category"], f.kind, f.metric, f.severity, f.service, f.endpoint, f.consumer, f.squad,
            _naive(f.start), _naive(f.end), f.title, f.detail, json.dumps(f.evidence, default=str),
            f.recommendation, json.dumps(f.impact, default=str), f.caused_by, f.event, f.status, at, at, f.key,
        ]

    # ---- reads ------------------------------------------------------------------
    def list(self, flt: FindingFilter = FindingFilter()) -> list[Finding]:
        where, params = ["1=1"], []
        for column in ("squad", "service", "category", "kind"):
            value = getattr(flt, column)
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if flt.status != "all":
            where.append("status = ?")
            params.append(flt.status)
        if flt.min_severity:
            allowed = list(SEVERITIES[: SEVERITIES.index(flt.min_severity) + 1])
            where.append("severity IN (SELECT unnest(?))")
            params.append(allowed)
        order = "CASE severity " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SEVERITIES)) + " END"
        rows = self._fetch(f"SELECT * FROM findings WHERE {' AND '.join(where)} ORDER BY {order}, start DESC, id", params)
        return [_to_finding(r) for r in rows]

    def get(self, finding_id: str) -> Finding | None:
        rows = self._fetch("SELECT * FROM findings WHERE id = ?", [finding_id])
        return _to_finding(rows[0]) if rows else None

    def meta(self, finding_id: str) -> dict[str, Any]:
        rows = self._fetch("SELECT first_seen, last_seen FROM findings WHERE id = ?", [finding_id])
        return rows[0] if rows else {}

    def history(self, finding_id: str | None = None) -> builtins.list[dict[str, Any]]:
        if finding_id is None:
            return self._fetch("SELECT * FROM finding_history ORDER BY \"at\", rowid", [])
        return self._fetch("SELECT * FROM finding_history WHERE finding_id = ? ORDER BY \"at\", rowid", [finding_id])

    # ---- workflow ---------------------------------------------------------------
    def set_status(self, finding_id: str, status: str, action: str, by: str, note: str | None) -> None:
        current = self.get(finding_id)
        assert current is not None
        at = _now()
        self.con.execute("UPDATE findings SET status = ? WHERE id = ?", [status, finding_id])
        self._history(finding_id, at, action, by, note, current.status, status, current.squad)

    def assign(self, finding_id: str, squad: str, by: str, note: str | None) -> None:
        current = self.get(finding_id)
        assert current is not None
        self.con.execute("UPDATE findings SET squad = ? WHERE id = ?", [squad, finding_id])
        self._history(finding_id, _now(), "assigned", by, note, current.status, current.status, squad)

    def comment(self, finding_id: str, by: str, note: str) -> None:
        current = self.get(finding_id)
        assert current is not None
        self._history(finding_id, _now(), "commented", by, note, current.status, current.status, current.squad)

    def add_level_mark(self, service: str, endpoint: str, metric: str, at: datetime, note: str, by: str,
                       finding_id: str | None = None) -> None:
        self.con.execute("INSERT INTO level_marks VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [service, endpoint, metric, _naive(at), note, by, finding_id])

    def remove_level_marks(self, finding_id: str) -> int:
        """Drop the marks an acknowledgement of this finding recorded; how many there were."""
        rows = self.con.execute("DELETE FROM level_marks WHERE finding_id = ? RETURNING 1", [finding_id]).fetchall()
        return len(rows)

    def level_marks(self) -> builtins.list[dict[str, Any]]:
        return self._fetch("SELECT * FROM level_marks ORDER BY \"at\"", [])

    def _history(self, fid: str, at: datetime, action: str, by: str, note: str | None,
                 before: str | None, after: str, squad: str) -> None:
        self.con.execute("INSERT INTO finding_history VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [fid, at, action, by, note, before, after, squad])

    def _fetch(self, sql: str, params: builtins.list[Any]) -> builtins.list[dict[str, Any]]:
        cur = self.con.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


class _StoredFindings:
    """The stored findings in memory while a run is saved: matched by id, else by the same
    identity (kind, service, endpoint, consumer, metric) overlapping in time, the most recently
    seen first; what the run puts back is matched by the findings after it, as in the table."""

    def __init__(self, rows: builtins.list[dict[str, Any]]) -> None:
        self.by_id = {row["id"]: row for row in rows}
        self.by_identity: dict[tuple[str, ...], builtins.list[str]] = {}
        for row in rows:
            self.by_identity.setdefault(_identity(row), []).append(row["id"])
        self.touched: dict[str, None] = {}

    def match(self, f: Finding) -> dict[str, Any] | None:
        found = self.by_id.get(f.id)
        if found is not None:
            return found
        start, end = _naive(f.start), _naive(f.end)
        best = None
        for fid in self.by_identity.get(f.identity, ()):
            row = self.by_id[fid]
            if start is not None and row["end"] is not None and row["end"] < start:
                continue
            if end is not None and row["start"] is not None and row["start"] > end:
                continue
            if best is None or _later(row["last_seen"], best["last_seen"]):
                best = row
        return best

    def put(self, row: dict[str, Any]) -> None:
        if row["id"] not in self.by_id:
            self.by_identity.setdefault(_identity(row), []).append(row["id"])
        self.by_id[row["id"]] = row
        self.touched[row["id"]] = None

    def changed(self) -> builtins.list[dict[str, Any]]:
        return [self.by_id[fid] for fid in self.touched]


def _identity(row: dict[str, Any]) -> tuple[str, ...]:
    return (row["kind"], row["service"], row["endpoint"] or "", row["consumer"] or "", row["metric"] or "")


def _later(a: datetime | None, b: datetime | None) -> bool:
    """`a` after `b`, an unknown time last (as ORDER BY ... DESC puts NULLs)."""
    if a is None:
        return False
    return b is None or a > b


@overload
def _naive(moment: datetime) -> datetime: ...
@overload
def _naive(moment: datetime | None) -> datetime | None: ...
def _naive(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    b = _naive(b)
    if a is None or b is None:
        return a or b
    return min(a, b)


def _to_finding(row: dict[str, Any]) -> Finding:
    return Finding(
        id=row["id"], kind=row["kind"], metric=row["metric"], severity=row["severity"], service=row["service"],
        endpoint=row["endpoint"], consumer=row["consumer"], squad=row["squad"], start=row["start"],
        end=row["end"], title=row["title"], detail=row["detail"], evidence=json.loads(row["evidence"] or "{}"),
        recommendation=row["recommendation"] or "", impact=json.loads(row["impact"] or "{}"),
        caused_by=row["caused_by"], event=row["event"], status=row["status"], key=row["finding_key"] or "",
    )
