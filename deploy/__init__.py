"""How the stack runs: `deploy.run_stack` starts it locally (make run); the Dockerfiles, Compose file and
Kubernetes manifests beside it are for containers. A package so that tests and benchmarks import the
launcher like any module."""
