"""Tests of the monitor: health, schedule, claims, retention, the daemon."""
