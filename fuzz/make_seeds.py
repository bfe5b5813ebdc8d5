"""Write the small synthetic seed corpus, one folder per reader: fuzz/seeds/<reader>/.

The seeds are valid files of each format, written here so the fuzzers and
tests/test_fuzz_parsers.py have a starting point even without ../shared/samples (which the
runner and the tests add when present). Names and services match tests/conftest.py's small
catalog (checkout-api, payments). Run: .venv/bin/python fuzz/make_seeds.py
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"


def telemetry_long() -> str:
    rows = ["timestamp,service,endpoint,consumer,metric,value"]
    for minute in range(6):
        stamp = f"2026-01-05T10:{minute:02d}:00Z"
        rows.append(f"{stamp},checkout-api,POST /checkout,partner-acme,requests,{40 + minute}")
        rows.append(f"{stamp},checkout-api,POST /checkout,,latency_p95_ms,{210.5 + minute}")
        rows.append(f"{stamp},payments,,,errors,{minute % 2}")
    return "\n".join(rows) + "\n"


def telemetry_wide() -> str:
    rows = ["timestamp,service,endpoint,requests,errors,latency_p95_ms,cpu_pct"]
    for minute in range(6):
        rows.append(f"{1767607200 + 60 * minute},checkout-api,GET /cart,{100 + minute},{minute % 3},{180 + minute},{41.5}")
    return "\n".join(rows) + "\n"


def events() -> str:
    return (
        "timestamp,service,type,version,description\n"
        "2026-01-05T09:00:00Z,checkout-api,deploy,2.3.1,\"release 2.3.1, with the new cart\"\n"
        "2026-01-05T11:30:00+01:00,payments,incident,,card network timeouts\n"
        "1767610800,payments,config,,pool size 20\n"
    )


def jmeter_csv() -> str:
    rows = ["timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,"
            "bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect"]
    for i in range(12):
        label = "POST /checkout" if i % 3 == 0 else "GET /cart"
        ok = "false" if i == 7 else "true"
        code = "500" if i == 7 else "200"
        rows.append(f"{1767607200000 + 250 * i},{120 + 7 * i},{label},{code},OK,Thread Group 1-{i % 4},text,{ok},,"
                    f"1613,116,4,4,http://checkout-api/,{100 + i},0,{10 + i}")
    return "\n".join(rows) + "\n"


def jmeter_xml() -> str:
    samples = "\n".join(
        f'<httpSample t="{100 + i}" it="0" lt="{90 + i}" ct="5" ts="{1767607200000 + 500 * i}" s="{"true" if i != 3 else "false"}" '
        f'lb="GET /cart" rc="200" rm="OK" tn="Thread Group 1-1" dt="text" by="40" sby="13" ng="2" na="2"/>'
        for i in range(8)
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<testResults version="1.2">\n{samples}\n</testResults>\n'


def locust_stats() -> str:
    head = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
            "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%")
    return "\n".join([
        head,
        "POST,/checkout,1500,3,120.0,140.2,30.1,900.5,124.0,25.0,0.05,120,130,150,160,200,250,300,400,800,900,900",
        "GET,/cart,3500,0,80.0,90.1,20.0,500.0,162.0,58.3,0.0,80,90,100,110,130,150,200,250,400,500,500",
        ",Aggregated,5000,3,90.0,105.0,20.0,900.5,150.0,83.3,0.05,90,100,120,130,160,200,250,300,700,900,900",
    ]) + "\n"


def locust_history() -> str:
    head = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
            "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
            "Total Min Response Time,Total Max Response Time,Total Average Content Size")
    rows = [head]
    for i in range(5):
        rows.append(f"{1767607200 + 10 * i},{10 * (i + 1)},,Aggregated,{5.0 * i},0.0,90,100,120,130,160,200,250,300,"
                    f"700,900,900,{50 * i},0,90,105.0,20.0,900.5,150.0")
    return "\n".join(rows) + "\n"


def k6_ndjson() -> str:
    lines = [{"type": "Metric", "data": {"name": "http_req_duration", "type": "trend", "contains": "time",
                                          "thresholds": [], "submetrics": None}, "metric": "http_req_duration"}]
    for i in range(8):
        tags = {"method": "GET", "name": "http://checkout-api/cart", "status": "200" if i != 5 else "503",
                "url": "http://checkout-api/cart", "expected_response": "true" if i != 5 else "false"}
        stamp = f"2026-01-05T10:00:{i:02d}.123456789+01:00"
        lines.append({"metric": "http_req_duration", "type": "Point",
                      "data": {"time": stamp, "value": 100.5 + i, "tags": tags}})
        lines.append({"metric": "http_reqs", "type": "Point", "data": {"time": stamp, "value": 1, "tags": tags}})
        lines.append({"metric": "http_req_failed", "type": "Point",
                      "data": {"time": stamp, "value": 1 if i == 5 else 0, "tags": tags}})
    return "\n".join(json.dumps(x) for x in lines) + "\n"


def k6_summary() -> str:
    return json.dumps({"metrics": {
        "http_reqs": {"count": 120, "rate": 12.0},
        "http_req_failed": {"passes": 2, "fails": 118, "value": 0.0166},
        "http_req_duration": {"avg": 120.5, "min": 20.1, "med": 100.0, "max": 900.0, "p(90)": 200.0, "p(95)": 250.0},
        "http_req_duration{name:GET /cart}": {"avg": 110.5, "min": 20.1, "med": 90.0, "max": 800.0,
                                               "p(90)": 190.0, "p(95)": 240.0},
        "vus_max": {"value": 10, "min": 10, "max": 10},
    }, "root_group": {"name": "", "path": "", "groups": [], "checks": []}}, indent=2) + "\n"


def gatling_log() -> str:
    rows = ["RUN\tCheckoutSimulation\tcheckoutsimulation-20260105\t1767607200000\t \t3.9.5",
            "USER\tBuyers\tSTART\t1767607200100"]
    for i in range(8):
        status = "KO\tstatus.find.is(200), but actually found 503" if i == 4 else "OK\t "
        rows.append(f"REQUEST\t\tPOST /checkout\t{1767607200200 + 100 * i}\t{1767607200300 + 110 * i}\t{status}")
    rows.append("USER\tBuyers\tEND\t1767607202000")
    return "\n".join(rows) + "\n"


def nginx_log() -> str:
    rows = []
    for i in range(10):
        path = f"/orders/{1000 + i}" if i % 2 else "/cart"
        status = 503 if i == 6 else 200
        rows.append(f'10.0.0.{i} - - [05/Jan/2026:10:0{i % 6}:{10 + i} +0000] "GET {path} HTTP/1.1" {status} 512 '
                    f'"-" "partner-acme/1.0" {0.012 * (i + 1):.3f}')
    return "\n".join(rows) + "\n"


def alb_log() -> str:
    rows = []
    for i in range(4):
        rows.append(
            f'https 2026-01-05T10:0{i}:05.123456Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 '
            f'0.000 0.{i + 1}01 0.000 200 200 34 366 "GET https://checkout-api.example.com:443/cart HTTP/1.1" '
            f'"curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
            f'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 '
            f'"Root=1-58337364-23a8c76965a2ef7629b185e3" "checkout-api.example.com" "-" 0 '
            f'2026-01-05T10:0{i}:05.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"')
    return "\n".join(rows) + "\n"


def otlp_json() -> str:
    point = {"timeUnixNano": "1767607200000000000", "startTimeUnixNano": "1767607140000000000",
             "asInt": "42", "attributes": [{"key": "http.route", "value": {"stringValue": "/cart"}}]}
    return json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout-api"}}]},
        "scopeMetrics": [{"scope": {"name": "seed"}, "metrics": [
            {"name": "http.server.request.count", "unit": "1",
             "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [point]}},
            {"name": "system.cpu.utilization", "unit": "1",
             "gauge": {"dataPoints": [{"timeUnixNano": "1767607200000000000", "asDouble": 0.42}]}},
        ]}],
    }]}, indent=1) + "\n"


def prometheus_json() -> str:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "http_server_requests_total", "service": "checkout-api", "endpoint": "GET /cart"},
         "values": [[1767607200 + 60 * i, str(100 + 10 * i)] for i in range(6)]},
        {"metric": {"__name__": "service:latency_p95_ms:5m", "service": "payments"},
         "values": [[1767607200.5 + 60 * i, "123.4"] for i in range(6)]},
    ]}}, indent=1) + "\n"


def cloudwatch_json() -> str:
    return json.dumps({"MetricDataResults": [{
        "Id": "m1", "Label": "CPUUtilization",
        "Timestamps": [f"2026-01-05T10:0{i}:00+00:00" for i in range(5)],
        "Values": [40.5 + i for i in range(5)], "StatusCode": "Complete"}],
        "Messages": []}, indent=1) + "\n"


def prometheus_text() -> str:
    return (
        "# HELP http_server_requests_total Requests.\n# TYPE http_server_requests_total counter\n"
        'http_server_requests_total{service="checkout-api",endpoint="GET /cart",code="200"} 1027 1767607200000\n'
        'http_server_requests_total{service="checkout-api",endpoint="GET /cart",code="500"} 3 1767607200000\n'
        'http_server_requests_total{service="checkout-api",endpoint="GET /cart",code="200"} 1090 1767607260000\n'
        'http_server_requests_total{service="checkout-api",endpoint="GET /cart",code="500"} 5 1767607260000\n'
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total{service=\"payments\"} 12.5\n"
        "# EOF\n"
    )


def focus_csv() -> str:
    rows = ["BillingCurrency,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,"
            "ServiceName,ResourceId,ResourceName,Tags,x_Project"]
    for hour in range(6):
        span = f"2026-01-05T{hour:02d}:00:00Z,2026-01-05T{hour + 1:02d}:00:00Z"
        rows.append(f'USD,Usage,{span},1.25,1.0,Amazon EC2,i-0abc,web-1,"{{""app"": ""checkout""}}",shop')
        rows.append(f"USD,Tax,{span},0.1,0.1,,,,,")
    rows.append('USD,Purchase,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,31,0,Amazon EC2,ri-1,,"{}",')
    return "\n".join(rows) + "\n"


def opencost_json() -> str:
    sets = []  # hourly sets of one day (the day every seed is of, so a test can move it in time)
    for hour in range(3):
        window = {"start": f"2026-01-05T{hour:02d}:00:00Z", "end": f"2026-01-05T{hour + 1:02d}:00:00Z"}
        sets.append({name: {"name": name, "properties": {"namespace": name}, "window": window, **window,
                            "cpuCost": 1.5 + hour, "ramCost": 0.5, "totalCost": 2.0 + hour}
                     for name in ("checkout-api", "payments", "__idle__")})
    return json.dumps({"code": 200, "status": "success", "data": sets})


def all_seeds() -> dict[str, dict[str, bytes]]:
    return {
        "telemetry": {"long.csv": telemetry_long().encode(), "wide.csv": telemetry_wide().encode()},
        "events": {"events.csv": events().encode()},
        "jmeter": {"results.jtl": jmeter_csv().encode(), "results.xml": jmeter_xml().encode()},
        "locust": {"run_stats.csv": locust_stats().encode(), "run_stats_history.csv": locust_history().encode()},
        "k6": {"k6.ndjson": k6_ndjson().encode(), "summary.json": k6_summary().encode()},
        "gatling": {"simulation.log": gatling_log().encode()},
        "access-log": {"access.log": nginx_log().encode(), "alb.log": alb_log().encode(),
                       "access.log.gz": gzip.compress(nginx_log().encode(), mtime=0)},
        "otlp-json": {"otlp.json": otlp_json().encode()},
        "prometheus-json": {"query_range.json": prometheus_json().encode()},
        "cloudwatch-json": {"cloudwatch.json": cloudwatch_json().encode()},
        "prometheus-text": {"metrics.prom": prometheus_text().encode()},
        "focus": {"focus.csv": focus_csv().encode()},
        "opencost": {"allocation.json": opencost_json().encode()},
    }


def main() -> None:
    for reader, files in all_seeds().items():
        folder = SEEDS / reader
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)


if __name__ == "__main__":
    main()
