"""How the stack runs: `deploy.run_stack` starts it locally (make run); the Dockerfiles, Compose file and
Kubernetes manifests beside it are for containers. `deploy.config_docs` renders docs/configuration.md's
variable tables from the two settings classes (make docs). A package so that tests and benchmarks import
these like any module. See docs/deploy.md."""
