import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The browser globals api.ts reads (Vitest runs in Node): the page's origin, and session storage.
vi.hoisted(() => {
  const stored = new Map<string, string>();
  Object.assign(globalThis, {
    location: { origin: "http://console.test" },
    sessionStorage: {
      getItem: (key: string) => stored.get(key) ?? null,
      setItem: (key: string, value: string) => void stored.set(key, value),
      removeItem: (key: string) => void stored.delete(key),
    },
  });
});

import { ApiError, api, setApiKey, whenUnauthorized } from "./api";

const requests: Request[] = [];

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      requests.push(request);
      return new Response(status === 204 ? null : text, { status, headers });
    }),
  );
}

async function refusal(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => null,
    (exc: unknown) => exc,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

beforeEach(() => {
  requests.length = 0;
  setApiKey(null);
});
afterEach(() => vi.unstubAllGlobals());

describe("the API client", () => {
  it("sends the API key and the query, and returns the typed body", async () => {
    setApiKey("k".repeat(32));
    answer(200, { items: [], next_cursor: null });
    const page = await api.documents({ collection: "papers", metadata: ["team=search", "year=2024"] });
    expect(page.items).toEqual([]);
    const [request] = requests;
    expect(request.headers.get("Authorization")).toBe(`Bearer ${"k".repeat(32)}`);
    const url = new URL(request.url);
    expect(url.pathname).toBe("/api/v1/documents");
    expect(url.searchParams.getAll("metadata")).toEqual(["team=search", "year=2024"]);
    expect(url.searchParams.get("limit")).toBe("100");
    expect(url.searchParams.has("status")).toBe(false);
  });

  it("turns the error envelope into an ApiError with the server's Retry-After", async () => {
    answer(429, { error: { code: "rate_limited", message: "slow down", retryable: true } }, { "Retry-After": "7" });
    const error = await refusal(api.search({ query: "q", collections: ["a"], mode: "hybrid", top_k: 5 }));
    expect([error.status, error.code, error.message, error.retryable, error.retryAfterS]).toEqual([
      429,
      "rate_limited",
      "slow down",
      true,
      7,
    ]);
  });

  it("asks for a key on 401, and names an answer that is not the envelope after its status", async () => {
    const unauthorized = vi.fn();
    whenUnauthorized(unauthorized);
    answer(401, { error: { code: "unauthorized", message: "a valid API key is required" } });
    expect((await refusal(api.collections())).code).toBe("unauthorized");
    expect(unauthorized).toHaveBeenCalledOnce();

    answer(502, "<html>bad gateway</html>");
    const proxied = await refusal(api.job("j1"));
    expect([proxied.code, proxied.message, proxied.retryable]).toEqual(["http_502", "<html>bad gateway</html>", false]);
    expect(unauthorized).toHaveBeenCalledOnce();
  });

  it("reports a server that did not answer as a retryable network_error", async () => {
    vi.stubGlobal("fetch", vi.fn().mockRejectedValue(new TypeError("Failed to fetch")));
    const error = await refusal(api.queue());
    expect([error.status, error.code, error.retryable]).toEqual([0, "network_error", true]);
  });

  it("uploads the file as multipart, with on_duplicate and the password only when given", async () => {
    answer(202, { document_id: "d1", job_id: "j1", duplicate: false });
    const file = Object.assign(new Blob(["hello"]), { name: "notes.md" }) as File;
    const accepted = await api.upload("papers", file, { onDuplicate: "replace", password: "" });
    expect(accepted.job_id).toBe("j1");
    const [request] = requests;
    expect([request.method, new URL(request.url).pathname]).toEqual(["POST", "/api/v1/collections/papers/documents"]);
    expect(request.headers.get("Content-Type")).toMatch(/^multipart\/form-data; boundary=/);
    const form = await request.formData();
    expect([...form.keys()]).toEqual(["file", "on_duplicate"]);
    expect(form.get("on_duplicate")).toBe("replace");
    const sent = form.get("file") as File;
    expect([sent.name, await sent.text()]).toEqual(["notes.md", "hello"]);
  });

  it("resolves a 204 with nothing", async () => {
    answer(204, null);
    await expect(api.purge("j1")).resolves.toBeUndefined();
    expect([requests[0].method, new URL(requests[0].url).pathname]).toEqual(["DELETE", "/api/v1/dlq/j1"]);
  });
});
