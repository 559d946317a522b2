"""Keeping a store in shape: ``backup`` (a consistent copy while serving, and restore), ``retention`` (the leased
purge of old rows, in small batches) and ``erasure`` (an agent's personal data removed, anonymous totals kept)."""
