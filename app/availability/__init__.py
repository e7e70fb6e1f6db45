"""Availability: busy time per calendar, conflicts, group free/busy and the first free slot."""
