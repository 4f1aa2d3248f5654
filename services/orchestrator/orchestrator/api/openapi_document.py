"""docs/openapi.json: the API's OpenAPI document, written by `make openapi` and checked against the running
app by tests/orchestrator/api/test_openapi.py. It is built from the app factory with fixed settings (no
ORCH_* variable, no .env, no server reached), so it is the same on every machine."""

import json
import sys
from pathlib import Path

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from orchestrator.api.app import create_app
from orchestrator.settings import Settings

DEFAULT_PATH = Path("docs/openapi.json")
# Never served: the app is only asked for its schema. A key spares the dev-mode warning.
_UNSERVED_KEY = "openapi-document-only-" + "0" * 32


class _FixedSettings(Settings):
    """The defaults and what is passed in, nothing from the environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def render() -> str:
    """The document as docs/openapi.json holds it: indented JSON in the app's own order, a final newline."""
    schema = create_app(_FixedSettings(api_keys=_UNSERVED_KEY)).openapi()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
