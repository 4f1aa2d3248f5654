"""Fail-closed deployment, checked in the files themselves (Docker and kubectl are not available here):
patched Redis with maxmemory and noeviction everywhere, Redis auth wired to the orchestrator, network
isolation (NetworkPolicies, compose networks), bounded emptyDirs, non-root read-only containers, the
originals volume where ORCH_BLOB_URL points, and no test package in a runtime image."""

import os
import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from deploy import run_stack
from tests.deploy.manifests import (
    DOCKERFILES,
    REPO,
    WORKLOADS,
    acl_file_lines,
    compose_file,
    compose_redis_script,
    containers,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    redis_start_script,
)

PATCHED_REDIS = (7, 4, 6)  # CVE-2025-49844 fixed in 7.4.6, CVE-2025-21605 in 7.4.3
ORCHESTRATOR_PODS = {"orchestrator-api", "orchestrator-worker"}
# Who may open a connection to each workload's pods; None: anyone (the API is the public face).
K8S_INGRESS: dict[str, set[str] | None] = {
    "redis": ORCHESTRATOR_PODS,
    "chroma": ORCHESTRATOR_PODS,
    "compute": ORCHESTRATOR_PODS,
    "orchestrator-api": None,
    "orchestrator-worker": set(),
}
TEST_ONLY = {"pytest", "respx", "reportlab", "hypothesis", "schemathesis", "kubernetes-validate", "ruff"}
# Binary multiples whichever way they are spelt: Redis's mb/gb, Docker's m/g, Kubernetes' Mi/Gi.
BINARY = {"": 0, "k": 1, "m": 2, "g": 3}


def size_bytes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([kmg]?)(?:i?b?)", text.strip().lower()).groups()  # type: ignore[union-attr]
    return int(number) * 1024 ** BINARY[unit]


def arg_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def check_redis_command(argv: list[str], script: str) -> None:
    """Bounded, and its users from the ACL file the start script writes from the password secret: no user,
    password or secret reference on the command line."""
    assert argv[0] == "redis-server" and arg_after(argv, "--aclfile") == "/run/redis-acl/users.acl"
    assert size_bytes(arg_after(argv, "--maxmemory")) > 0
    assert arg_after(argv, "--maxmemory-policy") == "noeviction"
    assert not {"--user", "--requirepass", "--masterauth"} & set(argv), argv
    assert not any("PASSWORD" in word or word.startswith(">") for word in argv), argv
    assert "IFS= read -r password </run/secrets/redis_password" in script
    assert "PASSWORD" not in script and '"$@"' in script.splitlines()[-1]
    rules = acl_file_lines(script)
    assert ["default", "off"] in rules, "the passwordless default user must be off"
    (user,) = [rule for rule in rules if rule[0] != "default"]
    assert user[:2] == ["docsearch", "on"] and ">$password" in user[2:], user
    assert "nopass" not in user and "~ds:*" in user and "-@dangerous" in user, user


def redis_version(image: str) -> tuple[int, ...]:
    name, _, tag = image.rpartition(":")
    assert name == "redis", image
    return tuple(int(part) for part in re.match(r"(\d+)\.(\d+)\.(\d+)", tag).groups())  # type: ignore[union-attr]


# --- Redis: patched, bounded, authenticated -------------------------------------------------------------


def test_redis_images_are_patched() -> None:
    images = [c["image"] for c in containers(named("StatefulSet", "redis"))]
    images.append(compose_file()["services"]["redis"]["image"])
    for image in images:
        assert redis_version(image) >= PATCHED_REDIS, image
    assert len(set(images)) == 1, "compose and Kubernetes run the same Redis"


def test_k8s_redis_is_bounded_below_its_memory_limit_and_needs_a_password() -> None:
    statefulset = named("StatefulSet", "redis")
    redis = containers(statefulset)[0]
    argv = redis["args"]
    check_redis_command(argv, redis_start_script(redis["command"]))
    limit = size_bytes(redis["resources"]["limits"]["memory"])
    # maxmemory counts only the data: the AOF rewrite's fork and client buffers need the rest.
    assert size_bytes(arg_after(argv, "--maxmemory")) <= 0.8 * limit
    # The password reaches Redis as a file of the Secret, never as a variable (`kubectl describe`, /proc).
    assert "env" not in redis and "envFrom" not in redis and "initContainers" not in pod_spec(statefulset)
    volumes = {v["name"]: v for v in pod_spec(statefulset)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in redis["volumeMounts"]}
    secret = volumes[mounts["/run/secrets"]]["secret"]
    assert secret["secretName"] == "docsearch-redis"
    assert secret["items"] == [{"key": "password", "path": "redis_password"}]
    assert volumes[mounts["/run/redis-acl"]]["emptyDir"]["medium"] == "Memory"  # never on a disk
    for probe in ("livenessProbe", "readinessProbe"):
        command = " ".join(redis[probe]["exec"]["command"])
        assert "--user docsearch" in command and "PONG" in command, probe  # NOAUTH still exits 0
        assert "/run/secrets/redis_password" in command and "PASSWORD" not in command, probe


def test_k8s_orchestrator_logs_in_to_redis_as_the_acl_user() -> None:
    config = named("ConfigMap", "docsearch-config")["data"]
    assert "ORCH_REDIS_URL" not in config, "the URL is built from the password in each pod"
    for name in ORCHESTRATOR_PODS:
        (container,) = containers(named("Deployment", name))
        env = [e["name"] for e in container["env"]]
        by_name = {e["name"]: e for e in container["env"]}
        assert by_name["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "docsearch-redis",
            "key": "password",
        }
        assert by_name["ORCH_REDIS_URL"]["value"] == "redis://docsearch:$(REDIS_PASSWORD)@redis:6379/0"
        assert env.index("REDIS_PASSWORD") < env.index("ORCH_REDIS_URL"), "$(...) sees only earlier vars"
    compute = containers(named("Deployment", "compute"))[0]
    assert "docsearch-redis" not in str(compute), "compute never holds the Redis password"


def test_compose_redis_is_bounded_and_needs_a_password() -> None:
    compose = compose_file()
    services = compose["services"]
    redis = services["redis"]
    argv = redis["command"]
    check_redis_command(argv, compose_redis_script())
    limit = size_bytes(redis["deploy"]["resources"]["limits"]["memory"])
    assert size_bytes(arg_after(argv, "--maxmemory")) <= 0.8 * limit
    # The password reaches Redis as the secret's file, never as an argument or a variable of its own.
    assert "environment" not in redis and "PASSWORD" not in str(redis)
    assert redis["secrets"] == ["redis_password"]
    assert compose["secrets"]["redis_password"] == {"environment": "REDIS_PASSWORD"}
    assert any(mount.startswith("/run/redis-acl:") for mount in redis["tmpfs"])  # never on a disk
    password = "${REDIS_PASSWORD:?"
    for name in ("api", "worker"):
        url = services[name]["environment"]["ORCH_REDIS_URL"]
        assert url.startswith("redis://docsearch:" + password), url  # required: no default password
        assert "secrets" not in services[name]
    assert "PONG" in " ".join(redis["healthcheck"]["test"])


def test_compose_and_k8s_start_redis_alike() -> None:
    k8s = containers(named("StatefulSet", "redis"))[0]
    assert redis_start_script(k8s["command"]) == compose_redis_script()
    assert k8s["command"][3:] == compose_file()["services"]["redis"]["entrypoint"][3:]
    assert k8s["args"] == compose_file()["services"]["redis"]["command"]


def test_make_run_bounds_redis_and_runs_in_loud_dev_mode(tmp_path: Path) -> None:
    with mock.patch.dict(os.environ, {"RUN_DATA_DIR": str(tmp_path)}):
        redis, _, compute, orchestrator = run_stack.services()
    assert arg_after(redis.argv, "--maxmemory") == run_stack.DEFAULT_REDIS_MAXMEMORY
    assert arg_after(redis.argv, "--maxmemory-policy") == "noeviction"
    # Bound to 127.0.0.1 without a password (dev mode): none to leak on its command line either.
    assert arg_after(redis.argv, "--bind") == "127.0.0.1"
    assert not {"--user", "--requirepass", "--aclfile"} & set(redis.argv)
    assert compute.env["COMPUTE_ENV"] == "dev" and orchestrator.env["ORCH_ENV"] == "dev"
    assert orchestrator.env["ORCH_BLOB_URL"] == str(tmp_path / "blobs")
    with mock.patch.dict(os.environ, {"RUN_DATA_DIR": str(tmp_path), "RUN_REDIS_MAXMEMORY": "64mb"}):
        assert arg_after(run_stack.services()[0].argv, "--maxmemory") == "64mb"
    banner = run_stack.dev_mode_banner([compute, orchestrator])
    assert "COMPUTE_ENV=dev" in banner and "ORCH_ENV=dev" in banner


# --- network isolation ----------------------------------------------------------------------------------


def allowed_sources(policies: list[dict[str, Any]], pods: dict[str, dict[str, str]], name: str) -> Any:
    """The workloads whose pods the NetworkPolicies let open connections to `name`'s pods (None: any)."""
    selecting = [
        p for p in policies if p["spec"]["podSelector"].get("matchLabels", {}).items() <= pods[name].items()
    ]
    sources: set[str] = set()
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            if "from" not in rule:
                return None
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, f"{policy['metadata']['name']}: only pod peers here"
                wanted = peer["podSelector"]["matchLabels"].items()
                sources |= {other for other, labels in pods.items() if wanted <= labels.items()}
    return sources


def test_network_policies_deny_by_default_and_admit_only_the_orchestrator() -> None:
    policies = of_kind("NetworkPolicy")
    default = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(default) == 1 and default[0]["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in default[0]["spec"], "the namespace-wide policy admits nothing"
    pods = {doc["metadata"]["name"]: pod_labels(doc) for doc in of_kind(*WORKLOADS)}
    assert set(pods) == set(K8S_INGRESS)
    for name, expected in K8S_INGRESS.items():
        assert allowed_sources(policies, pods, name) == expected, name
    (compute,) = [
        p
        for p in policies
        if p["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": "compute"}
    ]
    assert "Egress" in compute["spec"]["policyTypes"] and not compute["spec"].get("egress")


def test_compose_networks_keep_compute_away_from_the_state() -> None:
    compose = compose_file()
    nets = {name: set(service["networks"]) for name, service in compose["services"].items()}
    assert not nets["compute"] & (nets["redis"] | nets["chroma"]), "compute must not reach Redis or Chroma"
    for client in ("api", "worker"):
        for server in ("redis", "chroma", "compute"):
            assert nets[client] & nets[server], f"{client} cannot reach {server}"
    for name, members in nets.items():
        for net in members - {"public"}:
            assert compose["networks"][net].get("internal") is True, f"{name}: {net} is not internal"
    assert {name for name, members in nets.items() if "public" in members} == {"api"}


# --- containers: non-root, read-only, bounded scratch space --------------------------------------------


def test_every_k8s_container_is_non_root_read_only_and_without_capabilities() -> None:
    for doc in of_kind(*WORKLOADS):
        spec = pod_spec(doc)
        pod = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, doc["metadata"]["name"]
        for container in spec["containers"]:
            where = f"{doc['metadata']['name']}/{container['name']}"
            context = {**pod, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True and context.get("runAsUser", 0) > 0, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert context.get("capabilities", {}).get("drop") == ["ALL"], where


def test_every_k8s_empty_dir_has_a_size_limit() -> None:
    volumes = [v for doc in of_kind(*WORKLOADS) for v in pod_spec(doc).get("volumes", [])]
    assert any("emptyDir" in v for v in volumes)
    for volume in volumes:
        if "emptyDir" in volume:
            assert size_bytes(volume["emptyDir"]["sizeLimit"]) > 0, volume


# The image names no user and a fresh Docker volume is root's; it runs as root without capabilities.
COMPOSE_ROOT_EXCEPTIONS = {"chroma"}
OWN_IMAGES = {"compute", "api", "worker"}  # their Dockerfiles set a non-root USER


def test_every_compose_container_is_hardened() -> None:
    for name, service in compose_file()["services"].items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        if name not in COMPOSE_ROOT_EXCEPTIONS | OWN_IMAGES:
            assert service.get("user") not in (None, "root", "0"), name
        for mount in service.get("tmpfs", []):
            assert re.search(r"size=\d+[kmg]", mount), f"{name}: tmpfs {mount} has no size"


# --- originals, environments, images --------------------------------------------------------------------


def test_the_originals_volume_is_where_orch_blob_url_points() -> None:
    compose = compose_file()["services"]
    for name in ("api", "worker"):
        url = compose[name]["environment"]["ORCH_BLOB_URL"]
        path = re.fullmatch(r"\$\{ORCH_BLOB_URL:-file://(/\S+)\}", url).group(1)  # type: ignore[union-attr]
        assert f"originals:{path}" in compose[name]["volumes"], name
    config = named("ConfigMap", "docsearch-config")["data"]
    path = config["ORCH_BLOB_URL"].removeprefix("file://")
    claim = named("PersistentVolumeClaim", "originals")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "API and workers on many nodes share it"
    for name in ORCHESTRATOR_PODS:
        doc = named("Deployment", name)
        volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in containers(doc)[0]["volumeMounts"]}
        assert volumes[mounts[path]]["persistentVolumeClaim"]["claimName"] == "originals", name
    dockerfile = (REPO / "deploy/docker/orchestrator.Dockerfile").read_text()
    assert f"chown 10001:10001 {path}" in dockerfile, "a fresh volume must be writable by the app user"


def test_production_manifests_never_run_in_dev_mode() -> None:
    config = named("ConfigMap", "docsearch-config")["data"]
    assert config["ORCH_ENV"] == "prod" and config["COMPUTE_ENV"] == "prod"
    compose = compose_file()["services"]
    assert compose["compute"]["environment"]["COMPUTE_ENV"] == "prod"
    assert compose["compute"]["environment"]["COMPUTE_SERVICE_TOKEN"].startswith("${COMPUTE_SERVICE_TOKEN:?")
    assert compose["api"]["environment"]["ORCH_ENV"] == "${ORCH_ENV:-prod}"


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[=<>\[; ]", line)[0].lower().replace("_", "-"))
    return names


@pytest.mark.parametrize("service", ["compute", "orchestrator"])
def test_runtime_requirements_hold_no_test_package(service: str) -> None:
    runtime = requirement_names(REPO / f"services/{service}/requirements.txt")
    assert len(runtime) > 10
    assert not runtime & TEST_ONLY, runtime & TEST_ONLY
    assert not {name for name in runtime if name.startswith(("pytest", "hypothesis"))}


def test_images_install_runtime_requirements_only_and_copy_no_tests() -> None:
    for path in DOCKERFILES:
        text = path.read_text()
        for match in re.findall(r"pip install[^\n]*?-r\s+(\S+)", text):
            assert match.endswith("/requirements.txt"), f"{path.name} installs {match}"
        assert "requirements-test" not in re.sub(r"#[^\n]*", "", text), path.name
        assert not re.search(r"^COPY\s+(\.|tests)\b", text, re.MULTILINE), f"{path.name} copies tests"
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"tests", "**/requirements-test.txt", ".venv", "data"} <= set(ignored)
