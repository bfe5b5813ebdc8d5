"""perfops.yaml validation: every problem named with its line and what was expected."""

from __future__ import annotations

import pytest

from perfops.errors import CatalogError
from perfops.workspace import parse_catalog


def problems_of(text: str) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text)
    return caught.value.problems


def test_the_small_catalog_is_valid(small_catalog):
    assert small_catalog.domain == "Payments"
    assert small_catalog.service("checkout-api").slo.latency_p95_ms == 300
    assert small_catalog.squad_of("payments") == "payments"
    assert small_catalog.callers_of("payments") == ["checkout-api"]
    assert small_catalog.service("checkout-api").apdex_threshold_ms == 300  # falls back to the SLO


def test_unknown_key_is_an_error_with_its_line(small_catalog_text):
    text = small_catalog_text.replace("    slo: {availability", "    sloo: {availability")
    (problem,) = problems_of(text)
    assert problem.startswith("perfops.yaml:12: services.0.sloo: unknown key 'sloo'")


def test_wrong_type_names_field_and_line(small_catalog_text):
    text = small_catalog_text.replace("    tier: 1\n    depends_on", "    tier: first\n    depends_on")
    (problem,) = problems_of(text)
    assert problem.startswith("perfops.yaml:10: services.0.tier:")


def test_service_naming_a_missing_squad(small_catalog_text):
    text = small_catalog_text.replace("    squad: payments\n", "    squad: billing\n")
    assert any("names squad 'billing', which is not in squads" in p for p in problems_of(text))


def test_dependency_cycle_is_reported(small_catalog_text):
    text = small_catalog_text.replace("    squad: payments\n    tier: 1", "    squad: payments\n    tier: 1\n    depends_on: [checkout-api]")
    assert any("dependency cycle: " in p and "checkout-api" in p for p in problems_of(text))


def test_unknown_dependency(small_catalog_text):
    text = small_catalog_text.replace("depends_on: [payments]", "depends_on: [payments, ledger]")
    assert any("depends on 'ledger', which is not in services" in p for p in problems_of(text))


def test_mix_must_sum_to_100(small_catalog_text):
    text = small_catalog_text.replace('"GET /cart": 70', '"GET /cart": 60')
    (problem,) = problems_of(text)
    assert "transaction_mix sums to 90; expected 100" in problem
    assert problem.startswith("perfops.yaml:15:")


def test_several_problems_are_all_listed(small_catalog_text):
    text = small_catalog_text.replace("tier: 1\n    depends_on", "tier: 7\n    depends_on").replace(
        "timezone: Europe/London", "timezone: Mars/Olympus")
    assert len(problems_of(text)) == 2


def test_invalid_yaml_gives_the_line():
    (problem,) = problems_of("domain: x\nsquads: [\n  - name: a\n")
    assert problem.startswith("perfops.yaml:") and "invalid YAML" in problem


def test_missing_required_keys():
    problems = problems_of("domain: x\n")
    assert any("squads: required, missing" in p for p in problems)
    assert any("services: required, missing" in p for p in problems)


def test_names_follow_the_contract_pattern(small_catalog_text):
    text = small_catalog_text.replace("  - name: payments\nservices", "  - name: Payments_Team\nservices")
    assert any("squads.1.name" in p for p in problems_of(text))


def test_journey_steps_must_name_known_services(small_catalog_text):
    text = small_catalog_text.replace('"payments:POST /pay"', '"billing:POST /pay"')
    assert any("journey 'purchase' has a step on 'billing'" in p for p in problems_of(text))


def test_dependencies_closure_is_transitive():
    catalog = parse_catalog(
        "domain: d\nsquads: [{name: s}]\nservices:\n"
        "  - {name: a, squad: s, depends_on: [b]}\n  - {name: b, squad: s, depends_on: [c]}\n  - {name: c, squad: s}\n"
    )
    assert catalog.dependencies_closure("a") == ["b", "c"]
