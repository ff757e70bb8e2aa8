"""Benchmarks: each measures Predicto against a ceiling measured in the same run, as a ratio."""
