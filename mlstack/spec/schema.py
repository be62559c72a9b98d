"""JSON Schema validation with one error message that names the file and the field."""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache as memoize
from typing import Any

from mlstack.errors import InputError
from mlstack.resources import schema

MAX_SHOWN = 120  # characters of a value quoted in a message
TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "integer": "a whole number",
    "number": "a number",
}
BASE_URI = "https://mlstack.dev/schemas/"
# schemas a schema refers to: fragments' service sections are compose services
REFERENCED = {"fragment": {"compose_spec.json": "compose-spec"}}


def field_path(path: Any) -> str:
    """Render a jsonschema path as ``gpu.services[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def shown(value: Any) -> str:
    """``repr(value)``, cut short: a message quotes a value, it does not dump a document."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 3]}..."


def validate(data: Any, schema_name: str, source: str, fix: str) -> None:
    """Raise an InputError for the most specific schema violation, if any.

    The document validated is its plain form (what the rest of mlstack reads). A document
    found valid before (the same document, types included, and the same schema) is not
    checked again; one with anything but JSON's own types (a YAML date) is always checked.
    """
    from mlstack.spec import cache
    from mlstack.spec.yamlio import to_plain

    plain = to_plain(data)
    if not cache.is_json_exact(plain):
        _validate(plain, schema_name, source, fix)
        return
    text = json.dumps(plain)  # exact: JSON tells 1 from 1.0, "1" and true
    digest = cache.key("valid", _schema_digest(schema_name), text)
    cache.remembered("valid", digest, lambda: _validate(plain, schema_name, source, fix))


@memoize
def _schema_digest(schema_name: str) -> str:
    """The digest of a schema and of every schema it refers to (a cached verdict's basis)."""
    names = [schema_name, *REFERENCED.get(schema_name, {}).values()]
    text = "\0".join(json.dumps(final_values(schema(name)), sort_keys=True) for name in names)
    return hashlib.sha256(text.encode()).hexdigest()


@memoize
def _validator(schema_name: str) -> Any:
    """Draft 2020-12, stricter in two ways that matter for input from someone else.

    ``integer`` means an int: 8080.0 is a float in YAML and would reach compose as ``8080.0``.
    ``uniqueItems`` is quadratic on unhashable items, so an array already longer than its
    ``maxItems`` (reported by that keyword) is not compared item by item. A ``pattern``'s ``$``
    means the end of the string: Python's also matches before a final newline, which let
    ``demo`` and a newline through ``^[a-z0-9]...$`` and into a ``.env`` line.
    """
    import jsonschema  # deferred: ~100 ms to import, and a cached result needs none of it

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", lambda _, value: type(value) is int)
    unique = base.VALIDATORS["uniqueItems"]

    def bounded_unique(validator: Any, flag: Any, instance: Any, own: dict) -> Any:
        if isinstance(instance, list) and len(instance) > own.get("maxItems", 256):
            return iter(())
        return unique(validator, flag, instance, own)

    pattern = base.VALIDATORS["pattern"]

    def whole_pattern(validator: Any, regex: str, instance: Any, own: dict) -> Any:
        yield from pattern(validator, regex, instance, own)
        anchored = regex.endswith("$") and not regex.endswith("\\$")
        if isinstance(instance, str) and instance.endswith("\n") and anchored:
            if not re.search(regex[:-1] + r"\Z", instance):
                yield jsonschema.ValidationError(f"{instance!r} does not match {regex!r}")

    from referencing import Registry, Resource

    registry: Registry = Registry().with_resources(
        (BASE_URI + uri, Resource.from_contents(final_values(schema(name))))
        for uri, name in REFERENCED.get(schema_name, {}).items()
    )
    strict = jsonschema.validators.extend(
        base,
        validators={"uniqueItems": bounded_unique, "pattern": whole_pattern},
        type_checker=checker,
    )
    return strict(schema(schema_name), registry=registry)


# The string forms Compose casts to each type; a fragment may also write ${VAR} there.
STRING_FORMS = {
    "boolean": r"(?i:true|false|yes|no|on|off|y|n)",
    "integer": r"-?[0-9]{1,18}",
    "number": r"-?[0-9]{1,18}(\.[0-9]{1,18})?",
}


def final_values(node: Any) -> Any:
    """Compose's schema with ``type: [boolean, string]`` (and integer, number) made strict.

    Compose's schema takes any string there, for ``${VAR}``; Compose itself refuses
    ``read_only: "maybe"`` only when it interpolates, long after mlstack accepted it. Here
    such a string must be ``${...}`` or the type's own string form (``"true"``, ``"3"``).
    """
    if isinstance(node, list):
        return [final_values(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: final_values(value) for key, value in node.items()}
    kinds = out.get("type")
    if (
        isinstance(kinds, list)
        and len(kinds) == 2
        and kinds[1] == "string"
        and not (set(out) - {"type", "description", "default"})
    ):
        form = STRING_FORMS.get(kinds[0])
        if form:
            pattern = rf"^(\$\{{[^{{}}]+\}}|{form})$"
            out["anyOf"] = [{"type": kinds[0]}, {"type": "string", "pattern": pattern}]
            out["x-expected"] = f"{TYPE_NAMES.get(kinds[0], kinds[0])} (or ${{VAR}})"
            del out["type"]
    return out


def _validate(data: Any, schema_name: str, source: str, fix: str) -> bool:
    import jsonschema

    errors = list(_validator(schema_name).iter_errors(data))
    # "unevaluated property" only repeats that the key's own value was wrong: say that instead
    errors = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    error = jsonschema.exceptions.best_match(errors)
    if error is None:
        return True
    field, message = field_path(error.absolute_path), _message(error)
    expected = _expected(error)
    if expected is not None:
        message = f"expected {expected.schema['x-expected']}, got {shown(expected.instance)}"
        field = field_path(expected.absolute_path)
    if _lost_its_type(expected or error):
        found = re.search(r'"[^"]+"', (expected or error).schema.get("x-expected", ""))
        example = found[0] if found else '"..."'
        leaf = field.rsplit(".", 1)[-1]
        fix = (
            f"quote the value, e.g. {leaf}: {example} (YAML reads 3.10 unquoted as the number 3.1)"
        )
    if error.validator == "not" and isinstance(error.instance, dict):
        key = next(k for k in MLSTACK_KEYS if k in error.instance)
        field, message = f"{field}.{key}", "mlstack sets this key itself"
        fix = f"remove `{key}`; {MLSTACK_KEYS[key]}"
    raise InputError(source, field, message, fix)


def _lost_its_type(error: Any) -> bool:
    """A string field that YAML read as a number (``python: 3.10`` is 3.1): quoting fixes it."""
    number = isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool)
    return number and error.schema.get("type") == "string"


def _message(error: Any) -> str:
    """The message jsonschema gives, with the offending value quoted briefly."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        types = [c.validator_value for c in error.context if c.validator == "type" and not c.path]
        if len(types) == len(error.context):
            flat = [t for kind in types for t in ([kind] if isinstance(kind, str) else kind)]
            wanted = " or ".join(dict.fromkeys(TYPE_NAMES.get(t, t) for t in flat))
            return f"expected {wanted}, got {shown(error.instance)}"
    if error.validator in ("type", "enum", "pattern", "const"):
        said = error.message.removeprefix(repr(error.instance))
        if said != error.message:
            return f"{shown(error.instance)}{said}"
    message = error.message
    return message if len(message) <= 2 * MAX_SHOWN else f"{message[: 2 * MAX_SHOWN - 3]}..."


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
