"""Numbered schema migrations. Append; never edit one that has shipped."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE ingested_files (
        sha256 VARCHAR PRIMARY KEY, path VARCHAR, format VARCHAR, rows BIGINT,
        ingested_at TIMESTAMP, skipped BIGINT DEFAULT 0
    );
    CREATE TABLE telemetry (
        timestamp TIMESTAMP NOT NULL, service VARCHAR NOT NULL, endpoint VARCHAR NOT NULL,
        consumer VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE NOT NULL
    );
    CREATE TABLE events (
        timestamp TIMESTAMP NOT NULL, service VARCHAR NOT NULL, type VARCHAR NOT NULL,
        version VARCHAR NOT NULL, description VARCHAR NOT NULL
    );
    CREATE TABLE test_runs (
        run_id VARCHAR PRIMARY KEY, tool VARCHAR, service VARCHAR, environment VARCHAR,
        start TIMESTAMP, "end" TIMESTAMP, status VARCHAR, source VARCHAR, notes VARCHAR
    );
    CREATE TABLE test_endpoints (
        run_id VARCHAR, endpoint VARCHAR, samples BIGINT, errors BIGINT, throughput_rps DOUBLE,
        latency_p50_ms DOUBLE, latency_p90_ms DOUBLE, latency_p95_ms DOUBLE, latency_p99_ms DOUBLE,
        latency_avg_ms DOUBLE, latency_max_ms DOUBLE, exact_percentiles BOOLEAN
    );
    CREATE TABLE test_series (
        run_id VARCHAR, timestamp TIMESTAMP, endpoint VARCHAR, requests DOUBLE, errors DOUBLE,
        latency_p95_ms DOUBLE, users DOUBLE
    );
    CREATE TABLE findings (
        id VARCHAR PRIMARY KEY, category VARCHAR, kind VARCHAR, metric VARCHAR, severity VARCHAR,
        service VARCHAR, endpoint VARCHAR, consumer VARCHAR, squad VARCHAR,
        start TIMESTAMP, "end" TIMESTAMP, title VARCHAR, detail VARCHAR, evidence JSON,
        recommendation VARCHAR, impact JSON, caused_by VARCHAR, event VARCHAR, status VARCHAR,
        first_seen TIMESTAMP, last_seen TIMESTAMP, finding_key VARCHAR
    );
    CREATE TABLE finding_history (
        finding_id VARCHAR, "at" TIMESTAMP, action VARCHAR, "by" VARCHAR, note VARCHAR,
        from_status VARCHAR, to_status VARCHAR, squad VARCHAR
    );
    CREATE TABLE level_marks (
        service VARCHAR, endpoint VARCHAR, metric VARCHAR, "at" TIMESTAMP, note VARCHAR,
        "by" VARCHAR, finding_id VARCHAR
    );
    CREATE TABLE collect_state (
        source VARCHAR, query VARCHAR, last_timestamp TIMESTAMP, PRIMARY KEY (source, query)
    );
    CREATE TABLE analysis_runs (
        "at" TIMESTAMP, period_start TIMESTAMP, period_end TIMESTAMP, findings BIGINT
    );
    """,
    # cycle: hourly rollups of telemetry older than retention.raw_days (perfops cycle)
    """
    CREATE TABLE telemetry_hourly (
        hour TIMESTAMP NOT NULL, service VARCHAR NOT NULL, endpoint VARCHAR NOT NULL,
        consumer VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE NOT NULL, samples BIGINT NOT NULL
    );
    """,
    # credentials in a Prometheus URL were part of the stored source name: hidden as
    # perfops.model.redact.redact_url hides them
    r"""
    UPDATE collect_state SET source = regexp_replace(source, '://[^/@?#]*@', '://***@');
    UPDATE collect_state SET source = regexp_replace(source,
        '([?&;](token|access_token|api_key|apikey|api-key|key|password|passwd|secret|auth|authorization|bearer|x-api-key|sig|signature)=)[^&;#]*',
        '\1***', 'gi');
    """,
    # 2: analysis runs get an id; the figures analyze computed, keyed by that run (model/figures.py)
    """
    ALTER TABLE analysis_runs ADD COLUMN run_id BIGINT;
    UPDATE analysis_runs SET run_id = (SELECT count(*) FROM analysis_runs AS earlier
                                       WHERE earlier."at" <= analysis_runs."at");
    CREATE TABLE figures (
        run_id BIGINT NOT NULL, kind VARCHAR NOT NULL, service VARCHAR NOT NULL, payload JSON NOT NULL
    );
    """,
    # 5: telemetry as a dictionary of series and integer-keyed points (store/telemetry_repo.py):
    # writing (timestamp, series id, value) costs a third of writing the four key texts with every
    # row, and reads move ids instead of texts. `telemetry` stays as a view with its columns.
    """
    CREATE TABLE series (
        id INTEGER NOT NULL, service VARCHAR NOT NULL, endpoint VARCHAR NOT NULL,
        consumer VARCHAR NOT NULL, metric VARCHAR NOT NULL
    );
    INSERT INTO series
    SELECT row_number() OVER (ORDER BY service, endpoint, consumer, metric) - 1, service, endpoint, consumer, metric
    FROM (SELECT DISTINCT service, endpoint, consumer, metric FROM telemetry);
    CREATE TABLE points (timestamp TIMESTAMP NOT NULL, series INTEGER NOT NULL, value DOUBLE NOT NULL);
    INSERT INTO points
    SELECT t.timestamp, s.id, t.value FROM telemetry t
    JOIN series s ON t.service = s.service AND t.endpoint = s.endpoint AND t.consumer = s.consumer AND t.metric = s.metric
    ORDER BY s.id, t.timestamp;
    DROP TABLE telemetry;
    CREATE VIEW telemetry AS
    SELECT p.timestamp, s.service, s.endpoint, s.consumer, s.metric, p.value
    FROM points p JOIN series s ON p.series = s.id;
    """,
]
