"""SIGKILL one of the two compute replicas while a batch is being ingested: every job still succeeds,
the compute client moving on to the other replica. Runs last: the replica stays dead."""

import time

from tests.support.e2e import assert_invariants, create_collection, kill_replica, search, upload, wait_jobs

WORDS = ["river", "engine", "harvest", "quartz", "lantern", "orbit", "meadow", "cipher", "glacier", "violin"]


def long_markdown(n: int, sections: int = 12) -> bytes:
    lines = [f"# Survey {n}", ""]
    for s in range(sections):
        lines += [f"## Part {s} of survey {n}", ""]
        for p in range(3):
            body = " ".join(f"{WORDS[(n + s + p + i) % 10]}{(n * 31 + s * 7 + i) % 17}" for i in range(70))
            lines += [f"Survey {n} part {s} paragraph {p} notes {body}.", ""]
    return "\n".join(lines).encode()


def test_killing_a_compute_replica_mid_ingest_loses_no_job(stack) -> None:
    victim = stack.compute[1]
    with stack.client() as client:
        create_collection(client, "e2e-replica-kill")
        accepted = [upload(client, "e2e-replica-kill", f"survey-{n}.md", long_markdown(n)) for n in range(16)]
        job_ids = [a["job_id"] for a in accepted]
        # Wait until work is in flight, then kill the replica and its parse worker.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = [client.get(f"/jobs/{j}").json()["status"] for j in job_ids]
            if statuses.count("running") >= 2:
                break
            time.sleep(0.1)
        unfinished = sum(s not in {"succeeded", "failed", "cancelled", "dead"} for s in statuses)
        kill_replica(victim)
        t_kill = time.monotonic()
        assert unfinished >= 8, f"the batch ended too soon to test a kill in the middle: {statuses}"

        jobs = wait_jobs(client, job_ids, timeout_s=240)
        bad = {j: (v["status"], v.get("error")) for j, v in jobs.items() if v["status"] != "succeeded"}
        assert not bad, bad
        print(
            f"\n[e2e] replica killed with {unfinished}/{len(job_ids)} jobs unfinished; all succeeded "
            f"{time.monotonic() - t_kill:.1f} s later"
        )
        hits = search(client, "Survey 3 part 5 paragraph 1", ["e2e-replica-kill"], top_k=5)
        assert hits
        counts = assert_invariants(stack, client)
        print(f"[e2e] invariants hold after the kill: {counts}")
