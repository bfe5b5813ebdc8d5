"""A first-time user's mistakes, and what perfops tells them: every problem of perfops.yaml at once
with its line and what was expected; plain messages instead of tracebacks; ids typed loosely;
notes when a file yields nothing; the flags the contract promises on every command."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from perfops.errors import CatalogError
from perfops.workspace import parse_catalog

USER_CATALOG = """\
domain: Bookings
squads:
  - name: search
  - name: booking
services:
  - name: web
    squad: search
    tier: 4
    depends_on: [search-api, bookng-api]
    slo:
      availabilty: 99.9
      latency_p95_ms: 200ms
  - name: search-api
    squad: serch
    depends_on: [search-api]
    capacity:
      instances: 2.5
  - name: booking-api
    squad: booking
journeys:
  - name: buy
    steps: ["web:GET /", "cart:POST /cart"]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text)
    return caught.value.problems


@pytest.fixture(scope="module")
def user_problems() -> list[str]:
    return problems_of(USER_CATALOG)


def test_type_errors_and_dangling_names_are_listed_together_in_file_order(user_problems):
    lines = [int(p.split(":")[1]) for p in user_problems]
    assert lines == sorted(lines)
    assert len(user_problems) == 8, user_problems


def test_a_typo_in_a_key_suggests_the_right_one(user_problems):
    assert ("perfops.yaml:11: services.0.slo.availabilty: unknown key 'availabilty'; "
            "did you mean 'availability'?") in user_problems


def test_a_unit_where_a_number_is_expected_says_what_to_write(user_problems):
    (problem,) = [p for p in user_problems if "latency_p95_ms" in p]
    assert problem.startswith("perfops.yaml:12: services.0.slo.latency_p95_ms: got '200ms'")
    assert "write 200" in problem


def test_wrong_values_are_quoted_back(user_problems):
    assert any(p.startswith("perfops.yaml:8: services.0.tier:") and "got 4" in p for p in user_problems)
    assert any(p.startswith("perfops.yaml:17: services.1.capacity.instances: got 2.5; expected a whole number")
               for p in user_problems)


def test_unknown_dependency_and_squad_have_their_own_line_and_a_suggestion(user_problems):
    assert ("perfops.yaml:9: services.0.depends_on.1: service 'web' depends on 'bookng-api', which is not in "
            "services; did you mean 'booking-api'?") in user_problems
    assert ("perfops.yaml:14: services.1.squad: service 'search-api' names squad 'serch', which is not in "
            "squads; did you mean 'search'?") in user_problems
    assert "perfops.yaml:15: services.1.depends_on: dependency cycle: service 'search-api' depends on itself" \
        in user_problems
    assert any(p.startswith("perfops.yaml:22: journeys.0.steps.1: journey 'buy' has a step on 'cart'")
               for p in user_problems)
    assert not any("(top level)" in p for p in user_problems)


def test_reference_problems_alone_are_located_too():
    text = "domain: d\nsquads: [{name: s}]\nservices:\n  - name: a\n    squad: s\n    depends_on: [zz]\n"
    assert problems_of(text) == [
        "perfops.yaml:6: services.0.depends_on.0: service 'a' depends on 'zz', which is not in services; "
        "expected one of a"
    ]


def test_an_unknown_key_far_from_any_lists_the_allowed_keys():
    text = "domain: d\nsquads: [{name: s, colour: red}]\nservices: [{name: a, squad: s}]\n"
    (problem,) = problems_of(text)
    assert problem == "perfops.yaml:2: squads.0.colour: unknown key 'colour'; expected one of name, lead, webhook, webhook_env"


def test_a_tab_in_the_indentation_says_so():
    (problem,) = problems_of("domain: X\nsquads:\n\t- name: a\nservices: []\n")
    assert problem.startswith("perfops.yaml:3: invalid YAML") and "not tabs" in problem


def test_check_prints_each_problem_and_exits_1(cli, tmp_path: Path):
    (tmp_path / "perfops.yaml").write_text(USER_CATALOG)
    result = cli("check", workspace=tmp_path)
    assert result.code == 1
    assert result.err.count("error: ") == 8 and "Traceback" not in result.err


def test_version(cli):
    result = cli("--version")
    assert result.code == 0 and result.out.startswith("perfops ")


def test_a_bug_is_one_line_and_exit_70_not_a_traceback(cli, workspace: Path, monkeypatch):
    import perfops.usecases.workflow as workflow

    def broken(*_args, **_kwargs):
        raise RuntimeError("connection has an unfinished result\nsecond line")

    monkeypatch.delenv("PERFOPS_DEBUG", raising=False)
    monkeypatch.setattr(workflow, "list_findings", broken)
    result = cli("findings", workspace=workspace)
    assert result.code == 70
    assert "internal error (a bug in perfops): RuntimeError: connection has an unfinished result" in result.err
    assert "second line" not in result.err and "Traceback" not in result.err


def test_perfops_debug_shows_the_traceback(cli, workspace: Path, monkeypatch):
    import perfops.usecases.workflow as workflow

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setenv("PERFOPS_DEBUG", "1")
    monkeypatch.setattr(workflow, "list_findings", broken)
    with pytest.raises(RuntimeError, match="boom"):
        cli("findings", workspace=workspace)


def test_a_finding_id_given_as_a_command_points_at_show(cli, workspace: Path):
    result = cli("findings", "F-1a2b3c4d5e", workspace=workspace)
    assert result.code == 2
    assert "hint: to see one finding: perfops findings show F-1a2b3c4d5e" in result.err


@pytest.fixture
def regression(workspace: Path) -> str:
    from perfops.model.findings import Finding
    from perfops.store import open_store
    from perfops.workspace import Workspace

    finding = Finding(kind="regression", severity="medium", service="payments", squad="payments",
                      title="payments: p95 latency regressed", detail="up 60%", metric="latency",
                      start=datetime(2026, 11, 10), key="t")
    with open_store(Workspace(workspace).store_path) as store:
        (saved,) = store.findings.save_analysis([finding], at=datetime(2026, 11, 15))
    return saved.id


def test_ids_are_accepted_as_users_type_them(cli, workspace: Path, regression: str):
    typed = " " + regression.replace("F-", "f-").upper().replace("F-", "f-") + " "
    result = cli("findings", "show", typed, workspace=workspace)
    assert result.code == 0, result
    assert f'"id": "{regression}"' in result.out


def test_ack_of_a_regression_says_it_becomes_the_new_normal(cli, workspace: Path, regression: str):
    result = cli("findings", "ack", regression, "--by", "ana", workspace=workspace)
    assert result.code == 0, result
    assert f"{regression} is now acknowledged" in result.out
    assert "payments latency since 2026-11-10 00:00 UTC is now its normal level" in result.out


def test_comment_confirms(cli, workspace: Path, regression: str):
    result = cli("findings", "comment", regression, "looking at GC", "--by", "bo", workspace=workspace)
    assert result.code == 0 and f"comment added to {regression}" in result.out


@pytest.mark.parametrize("args", [
    ("init", "--verbose"), ("findings", "--verbose"), ("findings", "show", "-q", "F-0"),
    ("findings", "ack", "-v", "F-0"), ("findings", "assign", "-v", "F-0", "payments"),
    ("findings", "comment", "-q", "F-0", "x"),
])
def test_quiet_and_verbose_are_accepted(cli, workspace: Path, args):
    result = cli(*args, workspace=workspace)
    assert "No such option" not in result.err and result.code in (0, 1), result


def test_one_row_is_singular(cli, workspace: Path):
    (workspace / "t.csv").write_text("timestamp,service,metric,value\n2026-11-15T00:00:00Z,payments,requests,5\n")
    result = cli("ingest", str(workspace / "t.csv"), workspace=workspace)
    assert result.code == 0 and "t.csv: 1 row loaded as telemetry" in result.out


def test_a_file_that_yields_nothing_says_why(cli, workspace: Path):
    (workspace / "scrape.prom").write_text(
        "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 42\n")
    result = cli("ingest", str(workspace / "scrape.prom"), "--format", "prometheus-text", "--service", "payments",
                 workspace=workspace)
    assert result.code == 0, result
    assert "0 rows loaded" in result.out and "note:" in result.out
    assert "warning: nothing was loaded from" in result.err


@pytest.mark.parametrize(("yaml_value", "expected"), [
    ("slo: {latency_p95_ms: 0.3s}", "got '0.3s'; expected a plain number: write 300 (the key's _ms means milliseconds)"),
    ('nfr: {transaction_mix: {"GET /a": 100%}}', "got '100%'; expected a plain number: write 100 (percentages"),
    ("depends_on: b", "got 'b'; expected a list: write [b]"),
    ("name: Web API", "got 'Web API'; expected lower-case letters, digits, dots, dashes and underscores"),
])
def test_common_slips_say_what_to_write(yaml_value: str, expected: str):
    text = f"domain: d\nsquads: [{{name: s}}]\nservices:\n  - {{squad: s, name: a}}\n  - squad: s\n    {yaml_value}\n"
    if not yaml_value.startswith("name"):
        text = text.replace("  - squad: s\n", "  - squad: s\n    name: b\n")
    problems = problems_of(text)
    assert any(expected in p for p in problems), problems


def test_a_mapping_of_squads_is_explained_without_knock_on_errors():
    text = "domain: d\nsquads:\n  search:\n    lead: x\nservices: [{name: a, squad: search}]\n"
    assert problems_of(text) == [
        "perfops.yaml:2: squads: got a mapping; expected a list: start each item with '- ', e.g. '- name: checkout'"
    ]


def test_findings_before_any_data_says_what_to_do_first(cli, workspace: Path):
    result = cli("findings", workspace=workspace)
    assert result.code == 0
    assert "no findings yet: load data with 'perfops ingest FILE...', then run 'perfops analyze'" in result.out


def test_check_catches_a_query_for_an_unknown_metric_before_collect_does():
    text = ("domain: d\nsquads: [{name: s}]\nservices: [{name: a, squad: s}]\nsources:\n  prometheus:\n"
            "    url: http://localhost:9090\n    queries:\n      latency_p95: 'x'\n")
    (problem,) = problems_of(text)
    assert problem.startswith("perfops.yaml:7: sources.prometheus.queries: 'latency_p95' is not a perfops metric")
    assert "latency_p95_ms" in problem


def test_an_availability_written_as_a_fraction_is_refused_with_the_fix(tmp_path, cli):
    (tmp_path / "perfops.yaml").write_text(
        "domain: D\nsquads:\n  - name: pay\nservices:\n  - name: api\n    squad: pay\n    slo: {availability: 0.999}\n")
    result = cli("check", workspace=tmp_path)
    assert result.code == 1
    assert ":7:" in result.err and "looks like a fraction" in result.err and "99.9" in result.err


@pytest.mark.parametrize(("name", "words"), [("Null", "reads as null"), ("~", "reads as null"), ("true", "got true")])
def test_a_name_yaml_reads_as_null_or_a_boolean_says_to_quote_it(tmp_path, cli, name, words):
    (tmp_path / "perfops.yaml").write_text(f"domain: {name}\nsquads:\n  - name: pay\nservices:\n  - name: api\n    squad: pay\n")
    result = cli("check", workspace=tmp_path)
    assert result.code == 1 and ":1:" in result.err and words in result.err and "in quotes" in result.err
