"""Periodic work: the scheduler (APScheduler) and the leases that let one instance of a cluster run each job per tick."""
