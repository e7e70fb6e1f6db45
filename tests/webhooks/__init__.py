"""Tests of events and their delivery to webhook subscribers."""
