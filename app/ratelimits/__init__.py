"""Rate limits per token and per tenant, on the `limits` library's storages."""
