"""Database access: engine and session, the embedded server, the base model, migrations."""
