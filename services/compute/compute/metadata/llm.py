"""Metadata from an OpenAI-compatible chat endpoint (LM Studio, Ollama, vLLM), when one is configured.

Any failure (network, status, malformed JSON) raises LLMUnavailable; the caller falls back to the
local extractor and says so in the response.
"""

import json

import httpx

from compute.settings import Settings
from contracts import MetadataMode, MetadataResponse

PROMPT = (
    "Extract metadata from the document below. Answer with one JSON object and nothing else, with keys: "
    '"title" (string), "language" (ISO 639-1 code), "keywords" (list of up to {k} short phrases), '
    '"summary" (at most {n} sentences), "entities" (object mapping a type such as "person", '
    '"organization", "location" to a list of names).'
)


class LLMUnavailable(Exception):
    pass


def _json_from(content: str) -> dict:
    # The outermost braces, fenced or not: two finds, linear on any answer (no backtracking pattern).
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end <= start:
        raise LLMUnavailable("the model's answer holds no JSON object")
    try:
        data = json.loads(content[start : end + 1])
    except json.JSONDecodeError as exc:
        raise LLMUnavailable(f"the model's answer is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LLMUnavailable("the model's answer is not a JSON object")
    return data


async def extract(
    client: httpx.AsyncClient, settings: Settings, text: str, max_keywords: int, summary_sentences: int
) -> MetadataResponse:
    assert settings.llm_url
    headers = {}
    if settings.llm_api_key:
        headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
    body = {
        "model": settings.llm_model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": PROMPT.format(k=max_keywords, n=summary_sentences)},
            {"role": "user", "content": text[: settings.llm_max_input_chars]},
        ],
    }
    url = settings.llm_url.rstrip("/") + "/chat/completions"
    try:
        resp = await client.post(url, json=body, headers=headers, timeout=settings.llm_timeout_s)
    except httpx.HTTPError as exc:
        raise LLMUnavailable(f"LLM endpoint unreachable: {type(exc).__name__}") from exc
    if resp.status_code != 200:
        raise LLMUnavailable(f"LLM endpoint answered {resp.status_code}")
    try:
        content = resp.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMUnavailable("LLM endpoint answered in an unexpected shape") from exc
    data = _json_from(content or "")
    entities = data.get("entities") if isinstance(data.get("entities"), dict) else {}
    keywords = data.get("keywords") if isinstance(data.get("keywords"), list) else []
    return MetadataResponse(
        mode=MetadataMode.llm,
        title=str(data["title"]) if data.get("title") else None,
        language=str(data["language"]) if data.get("language") else None,
        keywords=[str(k) for k in keywords][:max_keywords],
        summary=str(data.get("summary") or ""),
        entities={str(k): [str(x) for x in v] for k, v in entities.items() if isinstance(v, list)},
    )
