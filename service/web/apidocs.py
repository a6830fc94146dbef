"""/api/docs: the JSON API described from its OpenAPI schema, as a plain HTML page.

FastAPI's Swagger UI loads its scripts and styles from a CDN, so it is blank offline (and the
only PyPI package that ships the assets, swagger-ui-bundle, carries Swagger UI 4, which cannot
read the OpenAPI 3.1 schema FastAPI writes). This page needs nothing but the server: every
endpoint with its parameters, request body, answers and whether it needs the bearer token, and
every schema with its fields. The machine-readable schema stays at /api/openapi.json.

Pure functions of the schema (and, for the token, of the app's routes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.web.auth import require_token

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # path | query | header | body
    type: str
    required: bool
    description: str = ""
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    description: str
    type: str | None


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str  # upper case
    path: str
    tag: str
    summary: str
    description: str
    params: tuple[Param, ...]
    body: str | None  # the request body's type
    answers: tuple[Answer, ...]
    needs_token: bool

    @property
    def anchor(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9_]+", "-", self.path).strip("-")
        return f"{self.method.lower()}-{slug}"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    required: bool
    description: str = ""


@dataclass(frozen=True, slots=True)
class SchemaDoc:
    name: str
    description: str
    fields: tuple[Field, ...]


def type_name(schema: Mapping[str, Any] | None) -> str:
    """A short readable type: 'LinkOut', 'list of CheckOut', 'integer or null', 'date-time'."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(type_name(s) for s in schema[key]))
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {type_name(schema.get('items'))}"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            return f"object of {type_name(extra)}"
        return "object"
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    fmt = schema.get("format")
    return str(fmt or kind or "any")


def _json_content(block: Mapping[str, Any]) -> Mapping[str, Any] | None:
    content = block.get("content") or {}
    media = content.get("application/json") or next(iter(content.values()), None)
    return media.get("schema") if isinstance(media, Mapping) else None


def _default(schema: Mapping[str, Any]) -> str | None:
    return repr(schema["default"]) if "default" in schema else None


def endpoints(
    schema: Mapping[str, Any], token_routes: Iterable[tuple[str, str]] = ()
) -> list[Endpoint]:
    """Every operation of the schema, in the schema's order (paths, then methods)."""
    guarded = {(m.upper(), p) for m, p in token_routes}
    out: list[Endpoint] = []
    for path, item in (schema.get("paths") or {}).items():
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            params = tuple(
                Param(
                    name=str(p.get("name", "")),
                    where=str(p.get("in", "")),
                    type=type_name(p.get("schema")),
                    required=bool(p.get("required")),
                    description=str(p.get("description") or ""),
                    default=_default(p.get("schema") or {}),
                )
                for p in op.get("parameters") or []
            )
            body_block = op.get("requestBody")
            body = None
            if isinstance(body_block, Mapping):
                body = type_name(_json_content(body_block))
            answers = tuple(
                Answer(
                    str(code),
                    str(resp.get("description") or ""),
                    type_name(_json_content(resp)) if resp.get("content") else None,
                )
                for code, resp in (op.get("responses") or {}).items()
            )
            tags = op.get("tags") or ["other"]
            out.append(
                Endpoint(
                    method=method.upper(),
                    path=str(path),
                    tag=str(tags[0]),
                    summary=str(op.get("summary") or ""),
                    description=str(op.get("description") or ""),
                    params=params,
                    body=body,
                    answers=answers,
                    needs_token=(method.upper(), path) in guarded,
                )
            )
    return out


def schemas(schema: Mapping[str, Any]) -> list[SchemaDoc]:
    """The component schemas (request and response shapes), by name."""
    found = (schema.get("components") or {}).get("schemas") or {}
    out = []
    for name in sorted(found):
        body = found[name]
        required = set(body.get("required") or [])
        fields = tuple(
            Field(
                name=field_name,
                type=type_name(field),
                required=field_name in required,
                description=str(field.get("description") or ""),
            )
            for field_name, field in (body.get("properties") or {}).items()
        )
        out.append(SchemaDoc(name, str(body.get("description") or ""), fields))
    return out


def token_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(METHOD, path) of the routes guarded by the bearer token (`require_token`)."""
    out: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        if any(getattr(d, "dependency", None) is require_token for d in route.dependencies):
            out.update((m.upper(), route.path) for m in route.methods or ())
    return out
