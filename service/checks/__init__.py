"""The HTTP checker: shared client, network guard, per-host limits, pure classification.

Import from the modules themselves (service.checks.checker, .classify, .client, .guard, ...):
this package imports nothing, so the pure helpers (fragments, canary, config) can be used
without loading aiohttp.
"""
