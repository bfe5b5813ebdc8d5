"""`--format auto` refusals say what the file looks like: a JSON file is named as JSON with its keys
and the JSON readers, a headerless CSV as data without a header; only a CSV with a header hears
about telemetry columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfops.errors import InputError
from perfops.ingest.registry import reader_for


def refusal(path: Path) -> str:
    with pytest.raises(InputError) as err:
        reader_for(path)
    assert "--format" in (err.value.hint or "")
    return err.value.message


def test_an_unknown_json_object_is_described_as_json(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"series": [{"pointlist": [[1763164800000, 3.5]]}], "from_date": 1, "to_date": 2}))
    message = refusal(path)
    assert "a JSON object with the keys series, from_date, to_date" in message
    assert "otlp-json, prometheus-json, cloudwatch-json, k6" in message
    assert "telemetry CSV" not in message and "columns" not in message


def test_json_lines_and_arrays(tmp_path):
    lines = tmp_path / "events.ndjson"
    lines.write_text('{"level": "info", "msg": "a"}\n{"level": "info", "msg": "b"}\n')
    assert "a JSON-lines file (first object's keys: level, msg)" in refusal(lines)
    docker = tmp_path / "app-json.log"
    docker.write_text('{"log": "started\\n", "stream": "stdout", "time": "2026-01-01T00:00:00Z"}\n' * 2)
    assert "container or shipper log" in refusal(docker)
    array = tmp_path / "a.json"
    array.write_text('[{"name": "x", "v": 1}]')
    assert "a JSON array of objects with the keys name, v" in refusal(array)


def test_a_headerless_jtl_with_a_custom_column_set_is_described_as_data_without_a_header(tmp_path):
    # the first rows of the shared headerless JTL (cbweixin) saved without responseMessage and dataType
    path = tmp_path / "log.jtl"
    path.write_text("1444551855008,100,dispatcher lib call,,Thread Group 1-1,false,0,1,1,0\n"
                    "1444551855113,3,dispatcher lib call,,Thread Group 1-1,false,0,1,1,0\n")
    message = refusal(path)
    assert "first line is data, not a header" in message and "JMeter JTL" in message


def test_a_csv_with_an_unknown_header_hears_about_telemetry_columns(tmp_path):
    path = tmp_path / "grafana.csv"
    path.write_text('"Time","web requests"\n2026-11-01 00:00:00,12\n')
    message = refusal(path)
    assert "a CSV with the header Time, web requests" in message and "timestamp, service, metric, value" in message
