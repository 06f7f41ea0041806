"""Self-contained HTML report of an analysis."""
