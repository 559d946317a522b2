"""Read models: time per state per day, logon events and counters (queries), what they read through (reads), and their CSV/JSON text (exports)."""
