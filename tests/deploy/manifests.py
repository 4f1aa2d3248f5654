"""Readers of the deployment files the deploy tests share: the Kubernetes documents, the compose file."""

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILES = sorted((REPO / "deploy" / "docker").glob("*.Dockerfile"))
WORKLOADS = ("Deployment", "StatefulSet")


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return docs


def of_kind(*kinds: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_docs() if doc["kind"] in kinds]


def named(kind: str, name: str) -> dict[str, Any]:
    return next(doc for doc in of_kind(kind) if doc["metadata"]["name"] == name)


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: dict[str, Any]) -> dict[str, str]:
    return doc["spec"]["template"]["metadata"]["labels"]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return pod_spec(doc)["containers"]


def compose_file() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())
