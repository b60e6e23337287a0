"""Benchmarks: ``scripts/bench NAME`` runs ``bench.NAME.main()``.  Figures go to stdout (and the
issue notes), never into timed unit tests."""
