"""Delete documents and a whole collection, then check the invariants of docs/architecture.md
against Redis and Chroma."""

from tests.support.e2e import (
    assert_invariants,
    create_collection,
    generated_documents,
    search,
    upload,
    wait_jobs,
)


def test_deletes_leave_no_orphans_and_nothing_deleted_is_found(stack) -> None:
    with stack.client() as client:
        kept, doomed = "e2e-kept", "e2e-doomed"
        docs = {kept: generated_documents("k2"), doomed: generated_documents("d2")}
        accepted = {}
        for collection, files in docs.items():
            create_collection(client, collection)
            for name, (data, _) in files.items():
                accepted[name] = upload(client, collection, name, data)
        jobs = wait_jobs(client, [a["job_id"] for a in accepted.values()], timeout_s=180)
        assert {j["status"] for j in jobs.values()} == {"succeeded"}, jobs

        # Two documents of the kept collection, and the whole doomed collection.
        gone = ["gen-k2.md", "gen-k2.csv"]
        delete_jobs = []
        for name in gone:
            response = client.delete(f"/documents/{accepted[name]['document_id']}")
            assert response.status_code == 202, response.text
            delete_jobs.append(response.json()["job_id"])
        # Hidden from search at once, before the delete jobs have run.
        for name in gone:
            hits = search(client, docs[kept][name][1], [kept], top_k=10)
            assert accepted[name]["document_id"] not in {h["document_id"] for h in hits}, name
        response = client.delete(f"/collections/{doomed}")
        assert response.status_code == 202, response.text
        delete_jobs.append(response.json()["job_id"])
        assert client.post("/search", json={"query": "orchestra", "collections": [doomed]}).status_code == 404

        ended = wait_jobs(client, delete_jobs, timeout_s=120)
        assert {j["status"] for j in ended.values()} == {"succeeded"}, ended
        assert client.get(f"/collections/{doomed}").status_code == 404
        for name in gone:
            assert client.get(f"/documents/{accepted[name]['document_id']}").status_code == 404

        # The rest is still found; the deleted ones never are.
        for name, (_, sentence) in docs[kept].items():
            hits = search(client, sentence, [kept], top_k=10)
            ids = {h["document_id"] for h in hits}
            if name in gone:
                assert accepted[name]["document_id"] not in ids, name
            else:
                assert hits[0]["document_id"] == accepted[name]["document_id"], (name, hits[:1])

        counts = assert_invariants(stack, client)
        print(f"\n[e2e] invariants hold after deletes: {counts}")
