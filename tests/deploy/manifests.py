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


def redis_start_script(command: list[str]) -> str:
    """The shell script that starts Redis (`/bin/sh -ec SCRIPT NAME`, then redis-server's own argv)."""
    assert command[:2] == ["/bin/sh", "-ec"], command
    return command[2]


def compose_redis_script() -> str:
    """compose's Redis start script as the shell sees it (compose turns `$$` into `$`)."""
    return redis_start_script(compose_file()["services"]["redis"]["entrypoint"]).replace("$$", "$")


def acl_file_lines(script: str) -> list[list[str]]:
    """The ACL file the start script writes (its here-document), each `user` line as its words."""
    body = script.split("<<EOF\n", 1)[1].split("\nEOF\n", 1)[0]
    return [line.split()[1:] for line in body.splitlines() if line.split()[:1] == ["user"]]
