"""/extract-metadata: the local extractor on real text, and the LLM mode with respx-injected answers."""

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from compute.app import create_app
from compute.settings import Settings

ARTICLE = """# Coastal Erosion Survey 2024

The survey team measured cliff retreat along the northern coast between 3 March 2024 and 2024-09-30.
Coastal erosion accelerated where sea walls were removed, and storm surges carried away sand dunes.
Contact the lead author at marta.keller@example.org or read the data at https://example.org/erosion/data.
The National Oceanography Centre funded the fieldwork and the University of Plymouth processed the samples.
Sand dune restoration slowed coastal erosion at two of the five monitored beaches.
"""
GERMAN = (
    "Die Untersuchung zeigt, dass die Küstenerosion an der Nordsee deutlich zugenommen hat und weiter steigt."
)


def test_local_extraction(client):
    body = client.post("/extract-metadata", json={"text": ARTICLE, "mode": "local"}).json()
    assert body["mode"] == "local" and body["fallback_reason"] is None
    assert body["title"] == "Coastal Erosion Survey 2024"
    assert body["language"] == "en"
    assert "marta.keller@example.org" in body["emails"]
    assert "https://example.org/erosion/data" in body["urls"]
    assert {"3 March 2024", "2024-09-30"} <= set(body["dates"])
    assert any("erosion" in k for k in body["keywords"][:3])
    flat = " ".join(ARTICLE.split())
    assert body["summary"] and all(s.rstrip(".") in flat for s in body["summary"].split(". "))
    assert "National Oceanography Centre" in body["entities"]["proper_nouns"]
    assert body["word_count"] > 60


def test_local_extraction_is_deterministic(client):
    first = client.post("/extract-metadata", json={"text": ARTICLE}).json()
    second = client.post("/extract-metadata", json={"text": ARTICLE}).json()
    assert first == second


def test_language_of_german_text(client):
    assert client.post("/extract-metadata", json={"text": GERMAN}).json()["language"] == "de"


def test_llm_mode_without_endpoint_falls_back(client):
    body = client.post("/extract-metadata", json={"text": ARTICLE, "mode": "llm"}).json()
    assert body["mode"] == "local" and "COMPUTE_LLM_URL" in body["fallback_reason"]


LLM_URL = "http://llm.test/v1"


@pytest.fixture(scope="module")
def llm_app():
    settings = Settings(llm_url=LLM_URL, llm_model="tiny", parse_workers=1, env="dev")
    with TestClient(create_app(settings)) as tc:
        yield tc


def _chat(content: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": content}}]})


def test_llm_mode_uses_the_model_answer(llm_app):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{LLM_URL}/chat/completions").mock(
            return_value=_chat(
                '```json\n{"title": "Erosion", "language": "en", "keywords": ["cliffs"], '
                '"summary": "Cliffs retreat.", "entities": {"organization": ["NOC"]}}\n```'
            )
        )
        body = llm_app.post("/extract-metadata", json={"text": ARTICLE}).json()
    assert body["mode"] == "llm" and body["fallback_reason"] is None
    assert body["title"] == "Erosion" and body["keywords"] == ["cliffs"]
    assert body["entities"] == {"organization": ["NOC"]}
    # Facts of the text come from the local extractor either way.
    assert "marta.keller@example.org" in body["emails"]
    sent = route.calls.last.request
    assert b'"model":"tiny"' in sent.content.replace(b" ", b"")


@pytest.mark.parametrize(
    "answer, reason",
    [
        (httpx.Response(500, text="boom"), "answered 500"),
        (_chat("I cannot help with that."), "no JSON object"),
        (httpx.Response(200, json={"unexpected": True}), "unexpected shape"),
        (httpx.ConnectError("refused"), "unreachable"),
    ],
)
def test_llm_failures_fall_back_to_local(llm_app, answer, reason):
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{LLM_URL}/chat/completions")
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)
        body = llm_app.post("/extract-metadata", json={"text": ARTICLE}).json()
    assert body["mode"] == "local"
    assert reason in body["fallback_reason"]
    assert body["title"] == "Coastal Erosion Survey 2024"
