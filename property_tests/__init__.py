"""Property and statistical tests (a package, so test modules can share ``_support``)."""
