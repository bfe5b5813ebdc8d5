"""Analyses: pure engines. Each area is one module with `run(ctx) -> list[Finding]`."""
