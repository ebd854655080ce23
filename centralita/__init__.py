"""Centralita: an open-source contact-center engine."""
