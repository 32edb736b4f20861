"""Models of the reports work (filled in by it)."""
