"""Settings, database, models and jobs wiring shared by every package."""
