"""Who is calling: bearer tokens, the principal they name, and the dependencies on it."""
