"""Campaigns and their customer databases: creating campaigns, importing customer files."""
