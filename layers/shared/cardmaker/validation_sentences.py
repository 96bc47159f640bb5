"""A refused request's failing fields as sentences an operator reads: the field, the rule and
its bound ("quantity must be between 1 and 500 for bind"), never the value that was sent (it
may be long, hostile, or a secret). The answers keep pydantic's ``loc`` and ``type`` for
programs; the sentence is ``msg``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter

# Where in the request a failing field is; not part of the field's name.
_PLACES = frozenset({"body", "query", "path", "header"})
_KINDS = {
    "int": "a whole number",
    "float": "a number",
    "decimal": "a number",
    "string": "text",
    "str": "text",
    "bool": "true or false",
    "dict": "a JSON object",
    "model": "a JSON object",
    "list": "a list",
    "enum": "one of its values",
}
# (minimum, maximum) of a request's numeric fields and (min_length, max_length) of its text
# and list fields, by field path (with the union's tag first for a tagged union).
Bounds = Mapping[tuple[str, ...], tuple[Any, Any]]


def request_bounds(*request_types: Any) -> dict[tuple[str, ...], tuple[Any, Any]]:
    """The bounds of the top-level fields of ``request_types`` (models, or a tagged union of
    models), read from their JSON schemas: a sentence then states both ends of a range when
    pydantic's error names only the end that was crossed."""
    bounds: dict[tuple[str, ...], tuple[Any, Any]] = {}
    for request_type in request_types:
        schema = TypeAdapter(request_type).json_schema()
        definitions = schema.get("$defs", {})
        mapping = schema.get("discriminator", {}).get("mapping")
        if mapping:
            for tag, reference in mapping.items():
                model = definitions.get(reference.rsplit("/", 1)[-1], {})
                bounds.update(_field_bounds(model, (tag,)))
        else:
            bounds.update(_field_bounds(schema, ()))
    return bounds


def union_tags(request_type: Any) -> frozenset[str]:
    """The tags of a tagged union of models (``loc``'s first part when one of them fails)."""
    schema = TypeAdapter(request_type).json_schema()
    return frozenset(schema.get("discriminator", {}).get("mapping", {}))


def _field_bounds(model: dict[str, Any], prefix: tuple[str, ...]) -> Iterable[Any]:
    for name, field in model.get("properties", {}).items():
        for low, high in (("minimum", "maximum"), ("minLength", "maxLength")):
            if low in field or high in field:
                yield (*prefix, name), (field.get(low), field.get(high))


def sentence(
    error: Mapping[str, Any], bounds: Bounds | None = None, tags: Iterable[str] = ()
) -> str:
    """One pydantic error (``ValidationError.errors()``'s item) as a sentence; ``tags`` are
    the tagged union's tags (the first field of ``loc`` that names the request's kind)."""
    error_type = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if error_type.startswith("union_tag_"):
        # The request's kind itself (the tag that was sent is never repeated).
        discriminator = str(ctx.get("discriminator", "type")).strip("'\"")
        rule = "is required" if error_type == "union_tag_not_found" else "must be"
        return f"{discriminator} {rule}: {_one_of(ctx.get('expected_tags'))}"
    location = list(error.get("loc", ()))
    if location and location[0] in _PLACES:
        location = location[1:]
    kind = ""
    if len(location) > 1 and location[0] in set(tags):
        kind = str(location[0])
        location = location[1:]
    field = ".".join(str(part) for part in location) or "the request"
    rule = _rule(
        error_type,
        ctx,
        (bounds or {}).get(((kind,) if kind else ()) + tuple(str(p) for p in location)),
        str(error.get("msg", "")),
    )
    return f"{field} {rule}" + (f" for {kind}" if kind else "")


def sentences(
    errors: Sequence[Mapping[str, Any]], bounds: Bounds | None = None, tags: Iterable[str] = ()
) -> list[str]:
    tags = tuple(tags)
    return [sentence(error, bounds, tags) for error in errors]


_BOUND_TYPES = frozenset({"less_than_equal", "greater_than_equal", "less_than", "greater_than"})
_LENGTH_TYPES = frozenset({"string_too_long", "string_too_short", "too_long", "too_short"})
_FIXED = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "json_invalid": "is not valid JSON",
}


def _rule(kind: str, ctx: Mapping[str, Any], bounds: tuple[Any, Any] | None, msg: str) -> str:
    if kind in _BOUND_TYPES:
        return _bound_rule(ctx, bounds)
    if kind in _LENGTH_TYPES:
        return _length_rule(kind, ctx, bounds)
    if kind in _FIXED:
        return _FIXED[kind]
    if kind in {"literal_error", "enum", "string_pattern_mismatch"}:
        return _schema_rule(ctx)
    if kind == "value_error":
        # The layer's own validators word these (never with the value that was sent).
        reason = msg.removeprefix("Value error, ")
        return reason if reason.startswith(("must", "is ")) else f"is invalid: {reason}"
    what = next((what for prefix, what in _KINDS.items() if kind.startswith(f"{prefix}_")), None)
    return f"must be {what}" if what else f"is invalid ({kind or 'unknown rule'})"


def _schema_rule(ctx: Mapping[str, Any]) -> str:
    # The rule's own words from the schema (the allowed values, the pattern).
    if "pattern" in ctx:
        return f"must match the pattern {ctx['pattern']}"
    return f"must be {ctx.get('expected', 'one of the allowed values')}"


def _bound_rule(ctx: Mapping[str, Any], bounds: tuple[Any, Any] | None) -> str:
    low, high = bounds or (None, None)
    if low is not None and high is not None:
        return f"must be between {low} and {high}"
    words = {"le": "at most", "lt": "less than", "ge": "at least", "gt": "greater than"}
    bound = next(name for name in (*words, "") if name in ctx or not name)
    return f"must be {words[bound]} {ctx[bound]}" if bound else "is out of range"


def _length_rule(kind: str, ctx: Mapping[str, Any], bounds: tuple[Any, Any] | None) -> str:
    unit = "characters" if kind.startswith("string") else "items"
    low, high = bounds or (None, None)
    if low is not None and high is not None:
        return f"must have between {low} and {high} {unit}"
    if "max_length" in ctx:
        return f"must have at most {ctx['max_length']} {unit}"
    return f"must have at least {ctx.get('min_length')} {unit}"


def _one_of(expected: Any) -> str:
    return f"one of {expected}" if expected else "one of the allowed values"
