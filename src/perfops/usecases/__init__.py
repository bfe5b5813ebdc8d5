"""Use cases: the functions the CLI and the web app call. They wire store, ingest, analysis, reports."""
