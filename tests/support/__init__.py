"""Local stand-ins for the outside world: link farm, fake Wayback, SMTP sink, webhook receiver."""
