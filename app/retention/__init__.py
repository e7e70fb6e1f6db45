"""Retention: old events, deliveries, attempts, notifications and deleted endpoints, in batches."""
