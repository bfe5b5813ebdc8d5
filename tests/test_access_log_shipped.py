"""Access logs as they are shipped: Docker json-file, JSON `message` lines, CRI (with partial
lines), a word before the line (Ambassador's `ACCESS `), gzip as logrotate and kubelet leave it.

Real files: tests/fixtures/access_logs (PROVENANCE.md). The container wrappings of the real
ingress-nginx log are rebuilt here exactly as the runtimes write them (cited per function), and
the unwrapped read must give the same telemetry as the plain file, whose numbers
test_access_log_ingress_nginx checks independently.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from perfops.errors import InputError
from perfops.ingest import access_log as al
from perfops.ingest import shipped_logs as shipped
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

CATALOG = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")
FIXTURES = Path(__file__).parent / "fixtures" / "access_logs"
INGRESS = FIXTURES / "beats-ingress-nginx-default-format.log"
CRI_SPLIT = 16 * 1024  # containerd's default max_container_log_line_size
DOCKER_SPLIT = 16 * 1024  # moby's jsonfilelog splits lines at 16 KiB (bufio reader size)
NGINX_STDERR = ['2020/02/07 11:48:50 [notice] 1#1: start worker processes',
                'I0207 11:48:50.501289       7 controller.go:134] "Configuration changes detected, backend reload required"']


def read(path: Path, **kw) -> al.IngestBatch:
    return al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web", **kw))


def plain_lines() -> list[str]:
    return INGRESS.read_text().splitlines()


def long_line() -> str:
    """A real line of the log with a long query string, so that runtimes split it."""
    first = plain_lines()[1]
    return first.replace("GET /products/42 ", "GET /products/42?q=" + "x" * 40_000 + " ")


def cri(lines: list[str], stderr: list[str]) -> str:
    """containerd's CRI writer: `RFC3339Nano stream tag message`, a line over 16 KiB in `P`
    pieces ended by an `F` piece (containerd pkg/cri/io/logger.go; kubelet parseCRILog)."""
    out = [f"2020-02-07T11:48:50.{i:09d}Z stderr F {text}" for i, text in enumerate(stderr)]
    for i, line in enumerate(lines):
        stamp = f"2020-02-07T11:48:51.{i:09d}Z stdout"
        pieces = [line[k:k + CRI_SPLIT] for k in range(0, len(line), CRI_SPLIT)]
        out += [f"{stamp} P {p}" for p in pieces[:-1]] + [f"{stamp} F {pieces[-1]}"]
    return "\n".join(out) + "\n"


def docker_json(lines: list[str], stderr: list[str]) -> str:
    """Docker's json-file driver: one object per entry, the line with its newline in `log`; a line
    over 16 KiB in several entries, only the last with the newline; Go's encoder escapes <, >, &."""
    def entry(text: str, stream: str) -> str:
        raw = json.dumps({"log": text, "stream": stream, "time": "2020-02-07T11:48:51.123456789Z"},
                         separators=(",", ":"))
        return raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    out = [entry(text + "\n", "stderr") for text in stderr]
    for line in lines:
        pieces = [line[k:k + DOCKER_SPLIT] for k in range(0, len(line), DOCKER_SPLIT)]
        out += [entry(p, "stdout") for p in pieces[:-1]] + [entry(pieces[-1] + "\n", "stdout")]
    return "\n".join(out) + "\n"


def frame(batch: al.IngestBatch) -> pd.DataFrame:
    return batch.telemetry.sort_values(["endpoint", "consumer", "metric", "timestamp"], ignore_index=True)


@pytest.mark.parametrize("wrap, label", [(cri, "CRI container log"), (docker_json, "Docker json-file log")])
@pytest.mark.parametrize("with_long_line", [True, False])  # False: Docker's whole-block vectorised path
def test_container_logs_read_as_the_plain_log_with_partials_joined(tmp_path, wrap, label, with_long_line):
    lines = plain_lines() + ([long_line()] if with_long_line else [])
    plain = tmp_path / "plain.log"
    plain.write_text("\n".join(lines) + "\n")
    shipped_path = tmp_path / "0.log"
    shipped_path.write_text(wrap(lines, NGINX_STDERR))
    assert reader_for(shipped_path).name == "access-log"
    batch = read(shipped_path)
    pd.testing.assert_frame_equal(frame(batch), frame(read(plain)))
    assert batch.skipped == []
    assert label in batch.notes[0] and "ingress-nginx" in batch.notes[0]
    assert any("2 stderr" in n for n in batch.notes)  # the controller's own lines, counted not read


def test_kubelet_rotated_gzip_cri_log_reads_directly(tmp_path):
    path = tmp_path / "0.log.20200207-115000"  # no .gz suffix: the magic bytes decide
    path.write_bytes(gzip.compress(cri(plain_lines(), NGINX_STDERR).encode()))
    assert reader_for(path).name == "access-log"
    assert frame(read(path)).equals(frame(read(INGRESS)))


def test_logrotate_gzip_plain_log_reads_directly(tmp_path):
    path = tmp_path / "access.log.2.gz"
    path.write_bytes(gzip.compress(INGRESS.read_bytes()))
    assert reader_for(path).name == "access-log"
    assert frame(read(path)).equals(frame(read(INGRESS)))


def test_real_docker_json_file_line_from_fluent_bit():
    path = FIXTURES / "apache-docker-json-fluent-bit.log"
    assert reader_for(path).name == "access-log"
    tel = read(path).telemetry
    row = tel[(tel.metric == "errors") & (tel.endpoint == "GET /intra-abdominally")]
    assert row["value"].tolist() == [1.0]  # the line's status is 500
    assert row["timestamp"].tolist() == [pd.Timestamp("2018-02-21 17:26:00")]


def test_real_ambassador_message_line_with_access_prefix():
    """filebeat's Ambassador fixture: `{"message": "ACCESS [..] \\"GET /httpbin/ip ..\\" 200 - 0 43 217 216 .."}`."""
    path = FIXTURES / "ambassador-envoy-json-message-beats.log"
    assert reader_for(path).name == "access-log"
    batch = read(path)
    tel = batch.telemetry
    assert tel[(tel.metric == "latency_max_ms") & (tel.endpoint == "GET /httpbin/ip") & (tel.consumer == "")][
        "value"].tolist() == [217.0]  # %DURATION% in ms
    assert "ACCESS" in batch.notes[0]


def test_plain_access_prefix_without_a_wrapper(tmp_path):
    path = tmp_path / "ambassador.log"
    path.write_text('ACCESS [2019-02-12T18:37:42.921Z] "GET /httpbin/ip HTTP/1.1" 200 - 0 43 217 216 "172.17.0.5" '
                    '"curl/7.59.0" "c62ec130-6dee-4f3b-a52b-4f0d1312d89d" "httpbin.org" "52.87.35.92:80"\n')
    assert reader_for(path).name == "access-log"
    assert read(path).telemetry.query("metric == 'requests' and endpoint == '' and consumer == ''")["value"].sum() == 1


def test_a_broken_wrapper_line_is_named_by_its_line_in_the_shipped_file(tmp_path):
    text = docker_json(plain_lines()[:5], NGINX_STDERR).splitlines()
    text[4] = text[4][1:]  # the `{` lost, as in filebeat's docker_corrupted.log
    path = tmp_path / "c-json.log"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError) as err:
        read(path)
    assert err.value.line == 5
    batch = read(path, skip_bad_rows=True)
    assert len(batch.skipped) == 1 and batch.skipped[0].startswith(f"{path}:5:")
    assert batch.telemetry.query("metric == 'requests' and endpoint == '' and consumer == ''")["value"].sum() == 4


def test_bad_inner_lines_carry_the_shipped_line_number_after_joined_partials(tmp_path):
    lines = [long_line(), plain_lines()[0], "not an access line"]
    path = tmp_path / "0.log"
    path.write_text(cri(lines, []))
    with pytest.raises(InputError) as err:
        read(path)
    pieces = -(-len(long_line()) // CRI_SPLIT)
    assert err.value.line == pieces + 2  # after the P..F pieces of line 1 and the whole line 2


def test_start_up_lines_on_the_access_stream_are_bad_lines_not_requests(tmp_path):
    lines = ["/docker-entrypoint.sh: Configuration complete; ready for start up"] + plain_lines()
    path = tmp_path / "x-json.log"
    path.write_text(docker_json(lines, NGINX_STDERR))
    with pytest.raises(InputError) as err:
        read(path)
    assert err.value.line == 3 and "docker-entrypoint" in err.value.message
    batch = read(path, skip_bad_rows=True)
    assert len(batch.skipped) == 1
    assert frame(batch).equals(frame(read(INGRESS)))


def test_recognise_needs_most_head_lines_to_share_the_wrapping():
    assert shipped.recognise([b'{"log": "a\\n", "stream": "stdout"}']).kind == "json"
    assert shipped.recognise([b"2024-01-01T00:00:00.000000000Z stdout F x"]).kind == "cri"
    assert shipped.recognise([b'10.0.0.1 - - [01/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1']).kind is None
    assert shipped.recognise([b'{"level": "info"}', b"plain", b"plain"]).kind is None


def test_ambassador_container_log_mixing_its_own_lines_with_access_lines(tmp_path):
    """The `ACCESS ` word is found among the commonest first words of a container's mixed output."""
    access = ('ACCESS [2019-02-12T18:37:4{i}.921Z] "GET /httpbin/ip HTTP/1.1" 200 - 0 43 21{i} 216 "172.17.0.5" '
              '"curl/7.59.0" "c62ec130-6dee-4f3b-a52b-4f0d1312d89d" "httpbin.org" "52.87.35.92:80"')
    own = 'time="2019-02-12 18:37:4{i}" level=info msg="diagd: snapshot updated" THREAD=MainThread'
    lines = [own.format(i=0), own.format(i=1)] + [access.format(i=i) for i in range(2, 6)]
    path = tmp_path / "0.log"
    path.write_text(cri(lines, []))
    with pytest.raises(InputError) as err:
        read(path)
    assert err.value.line == 1 and "diagd" in err.value.message
    batch = read(path, skip_bad_rows=True)
    assert len(batch.skipped) == 2 and "ACCESS" in batch.notes[0]
    tel = batch.telemetry
    assert tel[(tel.metric == "latency_max_ms") & (tel.endpoint == "") & (tel.consumer == "")]["value"].tolist() == [
        215.0]


def test_cli_ingests_a_rotated_cri_log_by_auto_detection(workspace, cli):
    """The user's path: `perfops ingest 0.log.<date>.gz --service S`, no --format, no --log-format."""
    path = workspace / "0.log.20200207-115000.gz"
    path.write_bytes(gzip.compress(cri(plain_lines(), NGINX_STDERR).encode()))
    result = cli("ingest", str(path), "--service", "checkout-api", "-v", workspace=workspace)
    assert result.code == 0, result
    assert "CRI container log" in result.out + result.err and "ingress-nginx" in result.out + result.err
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(workspace).store_path) as store:
        frame = store.telemetry.load()
    rows = frame[(frame.metric == "requests") & (frame.endpoint == "") & (frame.consumer == "")]
    assert rows["value"].sum() == len(plain_lines())
