"""Events and, later, their delivery to webhook subscribers."""
