"""JSON Schema validation with one error message that names the file and the field."""

from __future__ import annotations

import json
from typing import Any

from mlstack.errors import InputError
from mlstack.resources import schema


def field_path(path: Any) -> str:
    """Render a jsonschema path as ``gpu.services[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def validate(data: Any, schema_name: str, source: str, fix: str) -> None:
    """Raise an InputError for the most specific schema violation, if any.

    A document already found valid (same bytes, same schema) is not checked again.
    """
    from mlstack.spec import cache

    text = json.dumps(data, sort_keys=True, default=str)
    digest = cache.key("valid", json.dumps(schema(schema_name), sort_keys=True), text)
    cache.remembered("valid", digest, lambda: _validate(data, schema_name, source, fix))


def _validate(data: Any, schema_name: str, source: str, fix: str) -> bool:
    import jsonschema  # deferred: ~100 ms to import, and a cached result needs none of it

    validator = jsonschema.Draft202012Validator(schema(schema_name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return True
    field, message = field_path(error.absolute_path), error.message
    expected = _expected(error)
    if expected is not None:
        message = f"expected {expected.schema['x-expected']}, got {expected.instance!r}"
        field = field_path(expected.absolute_path)
    if error.validator == "not" and isinstance(error.instance, dict):
        key = next(k for k in MLSTACK_KEYS if k in error.instance)
        field, message = f"{field}.{key}", "mlstack sets this key itself"
        fix = f"remove `{key}`; {MLSTACK_KEYS[key]}"
    raise InputError(source, field, message, fix)


def _expected(error: Any) -> Any:
    """The nearest error, from this one up, whose schema says what it expects."""
    while error is not None and "x-expected" not in error.schema:
        error = error.parent
    return error


MLSTACK_KEYS = {
    "image": "name the image with the fragment's `image` slot and `images` defaults",
    "build": "use the fragment's `build.template`",
    "ports": "set the container `port` (and `publish_in_prod`); host ports live in mlstack.yaml",
    "depends_on": "list the component under `requires` or `uses`",
    "container_name": "compose names containers after the project, so two stacks can coexist",
}
