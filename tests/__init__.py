"""linkwatch tests (a package, so waybackpy's stray top-level `tests` cannot shadow it)."""
