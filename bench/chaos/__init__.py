"""`make chaos`: the whole stack under a seeded load and seeded faults, then checks that nothing was lost
or left inconsistent. The stack is `make run`'s (deploy/run_stack.py) plus a second compute replica and
separate worker processes; the faults are kill -9 of a compute replica, a worker, Chroma and Redis (each
restarted) and a SIGSTOP of a worker past its lease; the load uploads, re-ingests, patches, deletes,
cancels and searches. Each check is a number whose target is 0 (bench/chaos/checks.py).

Modules, one idea each: stack (the processes), faults (the scheduler), documents (what is uploaded),
load (the operations), ledger (what the load was told), searches (hits judged against the registry),
checks (the final state), report (the JSON and the README table), run (the phases).

The seed fixes every random choice (documents, operations, faults and their timing), not the timing
of the processes themselves, so two runs of one seed are alike, not identical.
"""
