"""FOCUS billing exports: the spec's own example data (tests/data/focus/spec, see PROVENANCE.md),
cost.match rules, charge categories, currencies, spreading, Parquet, and never a silent number.

Expected sums are computed here with the csv module from the files themselves, not from perfops.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SMALL_CATALOG
from perfops.errors import CatalogError, InputError
from perfops.ingest import focus
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

SPEC = Path(__file__).parent / "data" / "focus" / "spec"
BROKEN = {  # the spec's files that break FOCUS's own date-time rule: (line, column) of the first
    "commitment_discount_purchase_scenario_2.csv": (4, "ChargePeriodEnd"),  # hour 30
    "commitment_discount_purchase_scenario_3.csv": (5, "ChargePeriodEnd"),
    "saas_spend_agreements_a2.csv": (2, "ChargePeriodStart"),  # 4/1/25: a spreadsheet date
    "simple_saas_agreements_a1.csv": (2, "ChargePeriodStart"),
    "virtual_currency_pricing_model_a2.csv": (2, "ChargePeriodStart"),
}
CLEAN = sorted(p.name for p in SPEC.glob("*.csv") if p.name not in BROKEN)
ALL_TO_PAYMENTS = "cost:\n  match:\n    - service: payments\n      resource_id: '<my-*'\n"


def _catalog(extra: str = ALL_TO_PAYMENTS):
    return parse_catalog(SMALL_CATALOG + extra)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [row for row in csv.DictReader(f) if any((v or "").strip() for v in row.values())]


def _expected(path: Path, column: str, categories=("Usage", "Purchase")) -> float:
    return sum(float(r[column]) for r in _csv_rows(path) if r["ChargeCategory"] in categories)


def _read(path: Path, catalog=None, **options):
    return focus.read(path, IngestOptions(catalog or _catalog(), **options))


# ---- the spec's example data --------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(p.name for p in SPEC.glob("*.csv")))
def test_every_spec_example_is_recognised_as_focus(name):
    assert reader_for(SPEC / name).name == "focus"


@pytest.mark.parametrize("name", CLEAN)
def test_spec_examples_store_their_effective_cost(name):
    batch = _read(SPEC / name)
    assert batch.telemetry["value"].sum() == pytest.approx(_expected(SPEC / name, "EffectiveCost"))
    assert set(batch.telemetry["service"]) <= {"payments"} and set(batch.telemetry["metric"]) <= {"cost"}
    assert "spend read from EffectiveCost" in batch.notes[0]


@pytest.mark.parametrize("name", CLEAN)
def test_billed_cost_when_the_catalog_asks(name):
    catalog = _catalog(ALL_TO_PAYMENTS + "  column: BilledCost\n")
    batch = _read(SPEC / name, catalog)
    assert batch.telemetry["value"].sum() == pytest.approx(_expected(SPEC / name, "BilledCost"))


def test_hourly_rows_keep_their_hour():
    batch = _read(SPEC / "commitment_discount_usage_scenario_4.csv")
    assert list(batch.telemetry["timestamp"]) == [datetime(2023, 1, 1)]  # both rows, one hour, summed


def test_a_one_year_purchase_is_spread_over_its_days():
    catalog = _catalog(ALL_TO_PAYMENTS + "  column: BilledCost\n")
    tm = _read(SPEC / "commitment_discount_purchase_scenario_1.csv", catalog).telemetry
    assert len(tm) == 365 and tm["value"].sum() == pytest.approx(8760.0)
    assert tm["value"].max() == pytest.approx(8760.0 / 365)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_spec_examples_that_break_the_date_rule_are_refused_by_line_and_column(name):
    line, column = BROKEN[name]
    with pytest.raises(InputError) as err:
        _read(SPEC / name)
    assert (err.value.line, err.value.field) == (line, column)
    assert "ISO 8601" in str(err.value)


def test_skip_bad_rows_counts_what_it_leaves_out():
    batch = _read(SPEC / "commitment_discount_purchase_scenario_3.csv", _catalog(ALL_TO_PAYMENTS + "  column: BilledCost\n"),
                  skip_bad_rows=True)
    assert len(batch.skipped) == 1 and ":5:" in batch.skipped[0]
    good = [r for r in _csv_rows(SPEC / "commitment_discount_purchase_scenario_3.csv") if "T30:" not in r["ChargePeriodEnd"]]
    assert batch.telemetry["value"].sum() == pytest.approx(sum(float(r["BilledCost"]) for r in good))


# ---- rules, categories, currency ---------------------------------------------------------------
HEADER = ["BillingCurrency", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost",
          "ServiceName", "ResourceId", "ResourceName", "Tags", "x_Project"]


def _write(tmp_path: Path, rows: list[list[object]], name="focus.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _row(cost, *, category="Usage", start="2026-02-01T00:00:00Z", end="2026-02-02T00:00:00Z", service="Amazon EC2",
         rid="i-0abc", rname="web-1", tags=None, project="", currency="USD"):
    return [currency, category, start, end, cost, cost, service, rid, rname, json.dumps(tags) if tags else "", project]


RULES = """cost:
  match:
    - service: checkout-api
      tags: {app: checkout}
    - service: payments
      tags: {x_Project: pay*}
    - service: payments
      resource_id: 're:arn:aws:rds:.*:db:pay-[0-9]+'
    - service: checkout-api
      service_name: Amazon CloudFront
"""


def test_rules_give_rows_to_services_and_count_the_rest(tmp_path):
    path = _write(tmp_path, [
        _row(10, tags={"app": "checkout", "env": "prod"}),
        _row(20, project="payments-eu"),
        _row(30, rid="arn:aws:rds:eu-west-1:123:db:pay-01"),
        _row(40, service="Amazon CloudFront", rid=""),
        _row(7, service="AWS Support", rid=""),  # matches nothing
        _row(5, rid="arn:aws:rds:eu-west-1:123:db:pay-01-replica"),  # the regex must match the whole id
    ])
    batch = _read(path, _catalog(RULES))
    spend = batch.telemetry.groupby("service")["value"].sum().to_dict()
    assert spend == pytest.approx({"checkout-api": 50.0, "payments": 50.0})
    (unallocated,) = [n for n in batch.warnings if n.startswith("unallocated")]
    assert "2 row(s), 12.00 USD" in unallocated and "AWS Support 7.00 USD" in unallocated


def test_first_rule_wins(tmp_path):
    path = _write(tmp_path, [_row(10, tags={"app": "checkout"}, project="payments")])
    assert set(_read(path, _catalog(RULES)).telemetry["service"]) == {"checkout-api"}


def test_service_option_takes_every_row(tmp_path):
    path = _write(tmp_path, [_row(10), _row(5, service="AWS Support")])
    batch = _read(path, _catalog(RULES), service="payments")
    assert batch.telemetry["value"].sum() == 15 and not [n for n in batch.warnings if n.startswith("unallocated")]


def test_tax_credit_and_adjustment_are_counted_apart(tmp_path):
    path = _write(tmp_path, [_row(100, tags={"app": "checkout"}), _row(8, category="Tax", tags={"app": "checkout"}),
                             _row(-20, category="Credit", tags={"app": "checkout"})])
    batch = _read(path, _catalog(RULES))
    assert batch.telemetry["value"].sum() == 100
    assert any("1 Tax row(s) totalling 8.00 USD" in n for n in batch.warnings)
    assert any("1 Credit row(s) totalling -20.00 USD" in n for n in batch.warnings)
    with_credits = _catalog(RULES + "  charge_categories: [Usage, Purchase, Credit]\n")
    assert _read(path, with_credits).telemetry["value"].sum() == 80


def test_another_currency_is_refused(tmp_path):
    path = _write(tmp_path, [_row(10, tags={"app": "checkout"}), _row(10, currency="EUR", tags={"app": "checkout"})])
    with pytest.raises(InputError) as err:
        _read(path, _catalog(RULES))
    assert (err.value.line, err.value.field) == (3, "BillingCurrency")
    assert "EUR" in str(err.value) and "USD" in str(err.value)


def test_money_with_symbols_is_refused(tmp_path):
    path = _write(tmp_path, [_row("$1,000.00", tags={"app": "checkout"})])
    with pytest.raises(InputError) as err:
        _read(path, _catalog(RULES))
    assert err.value.field == "EffectiveCost" and err.value.line == 2


def test_a_monthly_fee_is_spread_per_day_and_adds_up(tmp_path):
    path = _write(tmp_path, [_row(310, start="2026-01-01T00:00:00Z", end="2026-02-01T00:00:00Z", tags={"app": "checkout"}),
                             _row(5, start="2026-01-03T10:00:00Z", end="2026-01-03T11:00:00Z", tags={"app": "checkout"})])
    tm = _read(path, _catalog(RULES)).telemetry
    assert tm["value"].sum() == pytest.approx(315)
    daily = tm.groupby(tm["timestamp"].dt.floor("D"))["value"].sum()
    assert len(daily) == 31 and daily.loc["2026-01-02"] == pytest.approx(10)
    assert daily.loc["2026-01-03"] == pytest.approx(15)  # the hourly row stays at 10:00 of its day
    assert datetime(2026, 1, 3, 10) in set(tm["timestamp"])


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("BilledCost,ChargePeriodStart\n1,2026-01-01T00:00:00Z\n")
    with pytest.raises(InputError, match="missing ChargePeriodEnd, ChargeCategory"):
        _read(path)


def test_parquet_export_reads_like_its_csv(tmp_path):
    source = SPEC / "commitment_discount_usage_scenario_4.csv"
    table = pacsv.read_csv(source)
    table = table.set_column(table.schema.get_field_index("ChargePeriodStart"), "ChargePeriodStart",
                             pa.compute.cast(table["ChargePeriodStart"], pa.timestamp("us", tz="UTC")))
    pq.write_table(table, tmp_path / "focus.parquet")
    assert reader_for(tmp_path / "focus.parquet").name == "focus"
    batch = _read(tmp_path / "focus.parquet")
    assert batch.telemetry["value"].sum() == pytest.approx(_expected(source, "EffectiveCost"))


def test_a_rule_for_an_unknown_service_is_a_catalog_error():
    with pytest.raises(CatalogError, match="cost.match rule 1 gives spend to 'checkout'"):
        parse_catalog(SMALL_CATALOG + "cost:\n  match:\n    - service: checkout\n      name: shop\n")
    with pytest.raises(CatalogError, match="not a valid regular expression"):
        parse_catalog(SMALL_CATALOG + "cost:\n  match:\n    - service: payments\n      name: 're:('\n")
    with pytest.raises(CatalogError, match="needs at least one of"):
        parse_catalog(SMALL_CATALOG + "cost:\n  match:\n    - service: payments\n")


def test_telemetry_csv_is_not_taken_for_focus(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("timestamp,service,metric,value\n2026-01-01T00:00:00Z,payments,cost,1\n")
    assert reader_for(path).name != "focus"


# ---- never a silent wrong number ----------------------------------------------------------------
_GOOD = st.tuples(st.sampled_from(["Usage", "Purchase", "Tax"]), st.integers(0, 10_000).map(lambda c: c / 100),
                  st.sampled_from(["checkout", "other"]))
_BAD_CELL = st.sampled_from([("ChargePeriodStart", "01/02/2026"), ("EffectiveCost", "1,5"), ("EffectiveCost", ""),
                             ("ChargeCategory", "Refund"), ("Tags", "{app: checkout"), ("BillingCurrency", "GBP"),
                             ("ChargePeriodEnd", "2025-01-01T00:00:00Z")])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.one_of(_GOOD.map(lambda g: ("good", g)), _BAD_CELL.map(lambda b: ("bad", b))),
                     min_size=1, max_size=25))
def test_every_row_is_taken_counted_or_refused_by_line(tmp_path, rows):
    written, expected, unallocated, excluded, bad_lines = [], 0.0, 0, 0, []
    for i, (kind, spec) in enumerate(rows):
        if kind == "good":
            category, cost, app = spec
            written.append(_row(cost, category=category, tags={"app": app}))
            if category == "Tax":
                excluded += 1
            elif app == "checkout":
                expected += cost
            else:
                unallocated += 1
        else:
            row = _row(1.0, tags={"app": "checkout"})
            column, value = spec
            row[HEADER.index(column)] = value
            if column == "EffectiveCost":
                row[HEADER.index("BilledCost")] = value
            written.append(row)
            bad_lines.append(i + 2)
    path = _write(tmp_path, written)
    catalog = _catalog(RULES)
    if bad_lines:
        with pytest.raises(InputError) as err:
            _read(path, catalog)
        assert err.value.line == bad_lines[0]
    batch = _read(path, catalog, skip_bad_rows=True)
    assert [int(s.split(":")[1]) for s in batch.skipped] == bad_lines
    assert batch.telemetry["value"].sum() == pytest.approx(expected)
    notes = " ".join(batch.warnings)
    assert (f"unallocated: {unallocated} row(s)" in notes) == bool(unallocated)
    assert (f"{excluded} Tax row(s)" in notes) == bool(excluded)


def test_parquet_tags_as_a_map_column(tmp_path):
    table = pa.table({
        "ChargePeriodStart": pa.array([datetime(2026, 1, 1), datetime(2026, 1, 1, 1)], pa.timestamp("us", tz="UTC")),
        "ChargePeriodEnd": pa.array([datetime(2026, 1, 1, 1), datetime(2026, 1, 1, 2)], pa.timestamp("us", tz="UTC")),
        "ChargeCategory": ["Usage", "Usage"], "BilledCost": pa.array([Decimal("1.5"), Decimal("2.25")], pa.decimal128(10, 4)),
        "Tags": pa.array([[("app", "checkout")], [("app", "search")]], pa.map_(pa.string(), pa.string())),
    })
    pq.write_table(table, tmp_path / "focus.parquet")
    batch = _read(tmp_path / "focus.parquet", _catalog(RULES))
    assert batch.telemetry["value"].tolist() == [1.5] and "unallocated: 1 row(s), 2.25 USD" in batch.warnings[0]


def test_bad_rows_beyond_the_listed_are_still_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(focus, "_MAX_SKIPS_LISTED", 3)
    path = _write(tmp_path, [_row("bad", tags={"app": "checkout"}) for _ in range(5)] + [_row(2, tags={"app": "checkout"})])
    batch = _read(path, _catalog(RULES), skip_bad_rows=True)
    assert len(batch.skipped) == 3 and "2 more bad row(s) skipped" in " ".join(batch.warnings)
    assert batch.telemetry["value"].sum() == 2
