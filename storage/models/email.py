"""Models of the email work (filled in by it)."""
