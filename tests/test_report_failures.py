"""A failed report section is an error: `perfops report` exits 70 with one line (the README's
promise for internal errors), writes no report lacking the section, and PERFOPS_DEBUG=1 shows
the traceback. Before, the section became an error box, a traceback was logged and exit was 0."""

from __future__ import annotations

import pytest


@pytest.fixture
def analysed(workspace, cli):
    from conftest import analysed_workspace

    analysed_workspace(workspace, ["checkout-api", "payments"], cli)
    return workspace


@pytest.fixture
def broken_section(monkeypatch):
    import perfops.reports.compose as compose_module

    real = compose_module.section_builders

    def builders():
        def load_tests(view):
            raise TypeError("cannot convert the series to <class 'float'>")

        return {**real(), "feedback": load_tests}

    monkeypatch.setattr(compose_module, "section_builders", builders)


def test_report_with_a_failing_section_exits_70(analysed, cli, broken_section, monkeypatch):
    monkeypatch.delenv("PERFOPS_DEBUG", raising=False)
    result = cli("report", "--audience", "developer", "--service", "checkout-api", workspace=analysed)
    assert result.code == 70, result
    lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert lines == ["error: internal error (a bug in perfops): SectionFailed: the 'feedback' section of the "
                     "developer report of checkout-api failed: TypeError: cannot convert the series to <class "
                     "'float'>"], result.err
    assert "Traceback" not in result.err and "PERFOPS_DEBUG=1" in result.err
    assert not (analysed / "reports" / "developer" / "checkout-api.md").exists()
    assert not (analysed / "reports" / "developer" / "checkout-api.html").exists()


def test_report_failure_traceback_with_debug(analysed, cli, broken_section, monkeypatch):
    from perfops.reports.compose import SectionFailed

    monkeypatch.setenv("PERFOPS_DEBUG", "1")
    with pytest.raises(SectionFailed) as failed:
        cli("report", "--audience", "developer", "--service", "checkout-api", workspace=analysed)
    assert isinstance(failed.value.__cause__, TypeError)


def test_report_to_stdout_with_a_failing_section_exits_70(analysed, cli, broken_section, monkeypatch):
    monkeypatch.delenv("PERFOPS_DEBUG", raising=False)
    result = cli("report", "--audience", "executive", "--format", "md", "--output", "-", workspace=analysed)
    assert result.code == 70 and result.out == "", result
