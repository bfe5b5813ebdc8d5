"""Input formats, one module each. See perfops.ingest.base for the reader interface."""
