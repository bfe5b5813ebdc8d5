"""Remote telemetry sources `perfops collect` pulls from (Prometheus and its API twins).

A source client does I/O only: it fetches raw answers and hands them back; naming the series
in perfops' terms is the ingest layer's job (perfops.ingest.prometheus_json) and storing them
the use case's (perfops.usecases.collect).
"""
