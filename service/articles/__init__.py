"""articles stage."""
