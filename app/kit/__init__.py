"""Shared pieces every domain uses: errors, auth, pagination, limits, OpenAPI helpers."""
