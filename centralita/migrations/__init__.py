"""Alembic migrations; run them with `centralita db upgrade` (centralita.core.migrate)."""
