"""Executors run one job of a kind. Each takes the job, its payload with defaults, the job's
LogWriter and a cancel event, and returns an Outcome (or raises InfrastructureError)."""
