"""Secret providers, the resolution chain and redaction."""
