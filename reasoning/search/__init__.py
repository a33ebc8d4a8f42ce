"""Test-time search: every method returns a Result with its compute counted."""
