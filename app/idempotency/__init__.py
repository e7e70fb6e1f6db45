"""Idempotency-Key on every write: the first answer is kept for 24 hours and replayed on retry."""
