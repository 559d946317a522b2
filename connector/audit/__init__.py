"""The audit trail: one row per admin or supervisor action (``trail``: writing and reading it; ``requests``: who
is acting in a web or API request)."""
