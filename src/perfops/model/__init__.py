"""The domain model: catalog, findings, canonical table schemas and units. No I/O."""
