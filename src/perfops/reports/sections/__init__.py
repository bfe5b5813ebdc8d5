"""Report sections, one module per area; each defines build(view) -> list[Section]."""
