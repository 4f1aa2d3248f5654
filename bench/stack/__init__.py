"""`make bench` (`python -m bench.stack`): the whole stack as a user would measure it. It starts its own
Redis, Chroma, compute and orchestrator API on free ports the way `make run` does (services), prints the
CPU's model and flags, then runs the parts, one module each: 0 a long PDF (big_pdf), 1 ingest throughput
(ingest), 2 quality per search mode (quality), 3 and 4 search latency and the query cache (search), 5 the
lexical index (lexical), 6 quality per embedding backend (backends), 7 every process's peak memory.
Runs from the orchestrator environment (httpx only, no ML import); see bench/README.md for the figures.
"""
