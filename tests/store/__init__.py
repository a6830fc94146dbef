"""Tests of the store: migrations, database opening, queries (SQLite and PostgreSQL)."""
