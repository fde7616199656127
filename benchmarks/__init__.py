"""Benchmarks (scripts that print figures) and the generators they and the load tests use."""
