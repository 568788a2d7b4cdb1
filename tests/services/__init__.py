"""Real services started by the tests: PostgreSQL, Azurite, HTTP servers."""
