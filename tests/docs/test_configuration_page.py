"""docs/configuration.md's tables are the settings classes' own: rendered afresh here and compared."""

import difflib

import pytest

from deploy.config_docs import PAGE, SERVICES, render


def test_every_setting_has_a_description():
    missing = [
        f"{service.prefix}{name.upper()}"
        for service in SERVICES
        for name, field in service.settings().model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing, f"give these fields Field(description=...): {missing}"


def test_the_page_agrees_with_the_settings_classes():
    current = PAGE.read_text()
    rendered = render(current)
    if rendered != current:
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            rendered.splitlines(keepends=True),
            "docs/configuration.md",
            "rendered from the settings classes",
            n=0,
        )
        pytest.fail(
            "docs/configuration.md and the settings classes disagree: run `make docs`\n"
            + "".join(diff)[:4000]
        )
