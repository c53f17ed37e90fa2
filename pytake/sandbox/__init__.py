"""The Meta simulator used by tests, benchmarks and the sandbox."""
