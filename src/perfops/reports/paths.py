"""Where each report is written, relative to the reports folder: the one naming rule that
`perfops report` writes by (usecases/reports.py) and the reports link by (reports/links.py)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

# names Windows reserves for devices, whatever the extension (`con.html` cannot be created there)
_DEVICE_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                           *(f"lpt{i}" for i in range(1, 10))})


def report_file(base: Path, fmt: str) -> Path:
    """`developer/orders.api` + html -> `developer/orders.api.html`: the format is appended, never
    put in place of a dot in the name (`orders.api` and `orders.worker` once both wrote
    `orders.html`). Names the catalog accepts ([a-z0-9][a-z0-9._-]*) are URL- and file-safe and
    the format has no dot, so the mapping is one to one; a device name (`con`) gets a `_`, which
    no catalog name starts with."""
    name = base.name
    if name.split(".", 1)[0].lower() in _DEVICE_NAMES:
        name = "_" + name
    return base.with_name(f"{name}.{fmt}")


def report_base(audience: str, scope: str | None = None) -> PurePosixPath:
    """The report's path without format, relative to the reports folder: `executive`,
    `lead/<squad>`, `developer/<service>`."""
    if audience == "executive":
        return PurePosixPath("executive")
    return PurePosixPath(audience) / (scope or "")


def report_href(from_audience: str, to_audience: str, scope: str | None = None, fmt: str = "html") -> str:
    """A relative link from a report of `from_audience` to another report, as `perfops report`
    lays them out (the executive at the top, leads and developers one folder down)."""
    target = report_file(Path(report_base(to_audience, scope)), fmt).as_posix()
    return target if from_audience == "executive" else f"../{target}"
