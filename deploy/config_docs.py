"""`make docs`: the variable tables of docs/configuration.md, rendered from the two settings classes.

Each table sits between marker comments in that page; the prose around them is written by hand and kept.
Both settings modules import only pydantic, the shared contracts and the standard library, so they are
loaded by file path: this runs in any environment with pydantic-settings and the contracts (the
orchestrator's, for `make docs`), and
tests/docs checks that the page and the classes agree."""

import ast
import importlib.util
import re
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "configuration.md"


@dataclass(frozen=True)
class Service:
    name: str  # the marker's name in the page
    prefix: str
    source: Path

    def settings(self) -> type[BaseSettings]:
        module_name = f"_config_docs_{self.name}_settings"
        spec = importlib.util.spec_from_file_location(module_name, self.source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # pydantic resolves annotations through it
        spec.loader.exec_module(module)
        return module.Settings


SERVICES = (
    Service("orchestrator", "ORCH_", ROOT / "services/orchestrator/orchestrator/settings.py"),
    Service("compute", "COMPUTE_", ROOT / "services/compute/compute/settings.py"),
)


def begin_marker(service: Service) -> str:
    return f"<!-- BEGIN generated: {service.name} settings (make docs) -->"


def end_marker(service: Service) -> str:
    return f"<!-- END generated: {service.name} settings -->"


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def type_name(annotation: Any, metadata: list[Any]) -> str:
    if NoDecode in metadata and get_origin(annotation) is list:
        return "comma-separated list"
    origin = get_origin(annotation)
    if origin is Literal:
        return " or ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(type_name(arg, metadata) for arg in inner)
    if origin is dict:
        return "JSON object"
    if origin is list:
        return "JSON list"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " or ".join(f"`{member.value}`" for member in annotation)
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
    return names.get(annotation, "secret" if annotation.__name__ == "SecretStr" else annotation.__name__)


def number(field_name: str, value: int | float) -> str:
    """The value as it is written in the environment, with a reading aid for bytes and long durations."""
    text = f"`{value}`"
    if field_name.endswith("_bytes") and isinstance(value, int) and value >= 1024:
        for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if value % size == 0:
                return f"{text} ({value // size} {unit})"
    if field_name.endswith("_s") and value >= 86_400 and value % 86_400 == 0:
        days = int(value // 86_400)
        return f"{text} ({days} day{'s' if days > 1 else ''})"
    return text


def default_text(field_name: str, field: FieldInfo) -> str:
    if field.default_factory is not None:
        return {dict: "`{}`", list: "`[]`"}.get(field.default_factory, "computed at start")
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return number(field_name, value)
    if isinstance(value, list):
        return f"`{','.join(map(str, value))}`"
    return f"`{value}`" if value != "" else "empty"


BOUNDS = ((at.Gt, "gt", ">"), (at.Ge, "ge", "≥"), (at.Lt, "lt", "<"), (at.Le, "le", "≤"))


def constraints_text(field_name: str, field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for kind, attribute, sign in BOUNDS:
            if isinstance(item, kind):
                parts.append(f"{sign} {number(field_name, getattr(item, attribute))}")
        if isinstance(item, at.MinLen):
            parts.append(f"at least {item.min_length} character{'s' if item.min_length > 1 else ''}")
        if isinstance(item, at.MaxLen):
            parts.append(f"at most {item.max_length} characters")
        if getattr(item, "pattern", None):
            parts.append(f"matches `{item.pattern}`")
    return ", ".join(parts)


def checks(service: Service, fields: list[str]) -> list[str]:
    """The messages of the class's own validators (`raise ValueError("...")`), with env names."""
    tree = ast.parse(service.source.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            for raised in ast.walk(node):
                if (
                    isinstance(raised, ast.Raise)
                    and isinstance(raised.exc, ast.Call)
                    and getattr(raised.exc.func, "id", None) == "ValueError"
                    and isinstance(raised.exc.args[0], ast.Constant)
                ):
                    found.append(str(raised.exc.args[0].value))
    names = re.compile(r"\b(" + "|".join(map(re.escape, fields)) + r")\b")
    return [names.sub(lambda m: f"`{service.prefix}{m.group(1).upper()}`", message) for message in found]


def table(service: Service) -> str:
    settings = service.settings()
    lines = [
        "| variable | type | default | constraints | description |",
        "|---|---|---|---|---|",
    ]
    for name, field in settings.model_fields.items():
        if not field.description:
            raise ValueError(
                f"{service.source}: the field {name} has no description (Field(description=...))"
            )
        kind = type_name(field.annotation, field.metadata)
        row = [f"`{service.prefix}{name.upper()}`", kind, default_text(name, field)]
        row += [constraints_text(name, field), field.description]
        lines.append("| " + " | ".join(cell(text) for text in row) + " |")
    messages = checks(service, list(settings.model_fields))
    if messages:
        lines += ["", "Checked together at start (the process refuses to start otherwise):", ""]
        lines += [f"- {message}" for message in messages]
    return "\n".join(lines)


def render(page: str) -> str:
    """The page with each service's table rendered afresh between its markers."""
    for service in SERVICES:
        begin, end = begin_marker(service), end_marker(service)
        head, found, rest = page.partition(begin + "\n")
        _, found_end, tail = rest.partition(end)
        if not found or not found_end:
            raise ValueError(f"{PAGE.name} lacks the markers {begin!r} ... {end!r}")
        page = f"{head}{begin}\n{table(service)}\n{end}{tail}"
    return page


def main() -> int:
    current = PAGE.read_text()
    rendered = render(current)
    if rendered == current:
        print(f"{PAGE.relative_to(ROOT)}: up to date")
        return 0
    PAGE.write_text(rendered)
    print(f"{PAGE.relative_to(ROOT)}: tables rendered from the settings classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
