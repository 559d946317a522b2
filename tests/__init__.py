"""The test suite. A package, so tests and bench/ import the shared helpers the same way: ``tests.helpers``."""
