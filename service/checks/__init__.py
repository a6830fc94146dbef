"""The HTTP checker: shared client, network guard, per-host limits, pure classification."""

from service.checks.checker import Checker
from service.checks.classify import Observation, classify, same_page
from service.checks.client import build_client, default_user_agent
from service.checks.errors import ErrorKind, PrivateTargetError
from service.checks.guard import FailingResolver, GuardedResolver, MappingResolver, parse_pins

__all__ = [
    "Checker",
    "ErrorKind",
    "FailingResolver",
    "GuardedResolver",
    "MappingResolver",
    "Observation",
    "PrivateTargetError",
    "build_client",
    "classify",
    "default_user_agent",
    "parse_pins",
    "same_page",
]
