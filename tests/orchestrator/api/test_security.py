"""The API fails closed at start: no keys outside dev mode, short keys, and the placeholder secrets the
project ships (deploy/k8s/config.yaml) are refused; dev mode without keys starts and says so loudly.
No server is needed: create_app checks before anything connects."""

import logging
from pathlib import Path

import pytest
import yaml

from contracts.credentials import MIN_SECRET_CHARS as MIN_API_KEY_CHARS
from orchestrator.api import create_app
from orchestrator.api.security import InsecureConfiguration, check_security
from orchestrator.settings import Settings

GOOD_KEY = "k" * MIN_API_KEY_CHARS
K8S_SECRETS = Path(__file__).resolve().parents[3] / "deploy/k8s/config.yaml"


def shipped_secrets() -> dict[str, str]:
    """Every secret value the Kubernetes manifests ship, as `secret name/key`."""
    values: dict[str, str] = {}
    for doc in yaml.safe_load_all(K8S_SECRETS.read_text()):
        if doc and doc["kind"] == "Secret":
            values |= {f"{doc['metadata']['name']}/{key}": v for key, v in doc["stringData"].items()}
    return values


def test_long_keys_are_accepted_and_returned() -> None:
    other = "0123456789abcdef" * 4
    assert check_security(Settings(env="prod", api_keys=f" {GOOD_KEY} , {other} ")) == [GOOD_KEY, other]


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_a_short_key_is_refused_in_every_mode(env: str) -> None:
    short = "s" * (MIN_API_KEY_CHARS - 1)
    with pytest.raises(InsecureConfiguration, match="31 characters") as refused:
        create_app(Settings(env=env, api_keys=f"{GOOD_KEY},{short}"))
    assert short not in str(refused.value)  # a refusal never quotes the key


@pytest.mark.parametrize(
    "key",
    ["replace-me-with-the-output-of-openssl-rand-hex-32", "REPLACE-ME" + "x" * 40, "secret", "changeme"],
)
def test_placeholder_keys_are_refused(key: str) -> None:
    with pytest.raises(InsecureConfiguration, match="placeholder"):
        check_security(Settings(env="prod", api_keys=key))


def test_every_shipped_secret_is_refused() -> None:
    """A forgotten edit of deploy/k8s/config.yaml fails closed: the API pods do not start."""
    secrets = shipped_secrets()
    api_keys, token = (
        secrets["docsearch-secrets/ORCH_API_KEYS"],
        secrets["docsearch-secrets/ORCH_COMPUTE_TOKEN"],
    )
    for name, value in secrets.items():
        assert len(value) >= MIN_API_KEY_CHARS, f"{name}: a placeholder refused only for its length"
    with pytest.raises(InsecureConfiguration, match="placeholder"):
        check_security(Settings(env="prod", api_keys=api_keys))
    with pytest.raises(InsecureConfiguration, match="ORCH_COMPUTE_TOKEN"):
        check_security(Settings(env="prod", api_keys=GOOD_KEY, compute_token=token))
    url = f"redis://docsearch:{secrets['docsearch-redis/password']}@redis:6379/0"
    with pytest.raises(InsecureConfiguration, match="ORCH_REDIS_URL"):
        check_security(Settings(env="prod", api_keys=GOOD_KEY, redis_url=url))


def test_real_secrets_elsewhere_pass() -> None:
    settings = Settings(
        env="prod",
        api_keys=GOOD_KEY,
        compute_token="t" * 40,
        redis_url="redis://docsearch:9f86d081884c7d659a2feaa0c55ad015@redis:6379/0",
    )
    assert check_security(settings) == [GOOD_KEY]


def test_no_keys_refuses_to_start_outside_dev_mode() -> None:
    with pytest.raises(InsecureConfiguration, match="no API keys"):
        create_app(Settings(env="prod", api_keys=""))


def test_dev_mode_without_keys_starts_and_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="orchestrator.api.security"):
        app = create_app(Settings(env="dev", api_keys=""))
    assert app.state.api_keys == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("WITHOUT AUTHENTICATION" in message for message in warnings)
    assert any(set(message) == {"!"} for message in warnings)  # a banner, not one line lost in the log
