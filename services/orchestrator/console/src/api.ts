// Every call to /api/v1, typed by the OpenAPI document (src/openapi.d.ts, generated from docs/openapi.json by
// `make openapi`) and made with openapi-fetch: the API key from session storage, and the error envelope
// ({"error": {"code", "message", "retryable"}}) turned into an ApiError the screens show as it is.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./openapi";
import type {
  ChunkOptions,
  DocumentStatus,
  HealthReport,
  JobStatus,
  OnDuplicate,
  SearchRequest,
  SearchResponse,
} from "./types";

const KEY_STORAGE = "docsearch.apiKey";
export const API = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable = false,
    readonly retryAfterS: number | null = null, // the server's Retry-After (429, 503)
  ) {
    super(message);
  }
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setApiKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

// Screens register here to learn that the key was refused (the app then asks for one).
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function unanswered(exc: unknown): ApiError {
  return new ApiError(0, "network_error", `the server did not answer: ${String(exc)}`, true);
}

// A refusal as the API's own error when the body is its envelope, else as `http_<status>` with the text.
function refusal(response: Response, body: unknown): ApiError {
  if (response.status === 401) onUnauthorized();
  const retryAfter = Number(response.headers.get("Retry-After"));
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
  const envelope = (body as { error?: { code?: unknown; message?: unknown; retryable?: unknown } } | null)?.error;
  if (envelope && typeof envelope.code === "string" && envelope.code) {
    const message = typeof envelope.message === "string" ? envelope.message : "";
    return new ApiError(response.status, envelope.code, message, envelope.retryable === true, retryAfterS);
  }
  const text = typeof body === "string" ? body : body === undefined ? "" : JSON.stringify(body);
  return new ApiError(
    response.status,
    `http_${response.status}`,
    text.slice(0, 300) || response.statusText,
    false,
    retryAfterS,
  );
}

const withKey: Middleware = {
  onRequest({ request }) {
    for (const [name, value] of Object.entries(authHeaders())) request.headers.set(name, value);
    return request;
  },
};

// Absolute URLs (openapi-fetch builds a Request from them); fetch is looked up per call, so tests can stub it.
const client = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  fetch: (request) => globalThis.fetch(request),
});
client.use(withKey);

// A call's data, or its failure as an ApiError: `network_error` when the server did not answer.
type Answer = { data?: unknown; error?: unknown; response: Response };
async function ok<A extends Answer>(call: Promise<A>): Promise<Exclude<A["data"], undefined>> {
  let result: A;
  try {
    result = await call;
  } catch (exc) {
    throw unanswered(exc);
  }
  if (!result.response.ok) throw refusal(result.response, result.error);
  return result.data as Exclude<A["data"], undefined>;
}

// The requests openapi-fetch cannot make: an event stream, a download. The key header, a network failure as
// `network_error`, a refusal as the API's own error. Returns the successful response.
export async function send(url: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) },
    });
  } catch (exc) {
    if (init.signal?.aborted) throw exc;
    throw unanswered(exc);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not our envelope (a proxy's page): the text
    }
    throw refusal(response, body);
  }
  return response;
}

const documentPath = (id: string) => ({ path: { document_id: id } });
const jobPath = (id: string) => ({ path: { job_id: id } });

export const api = {
  collections: () => ok(client.GET("/api/v1/collections", { params: { query: { limit: 1000 } } })),
  createCollection: (body: { name: string; chunking: ChunkOptions; extract_metadata: boolean }) =>
    ok(client.POST("/api/v1/collections", { body })),
  deleteCollection: (name: string) => ok(client.DELETE("/api/v1/collections/{name}", { params: { path: { name } } })),

  documents: (filters: {
    collection?: string;
    status?: DocumentStatus;
    filename?: string;
    metadata?: string[];
    cursor?: string;
  }) => ok(client.GET("/api/v1/documents", { params: { query: { ...filters, limit: 100 } } })),
  document: (id: string) => ok(client.GET("/api/v1/documents/{document_id}", { params: documentPath(id) })),
  chunks: (id: string, cursor?: string) =>
    ok(
      client.GET("/api/v1/documents/{document_id}/chunks", {
        params: { ...documentPath(id), query: { cursor, limit: 100 } },
      }),
    ),
  patchMetadata: (id: string, metadata: Record<string, unknown>) =>
    ok(client.PATCH("/api/v1/documents/{document_id}", { params: documentPath(id), body: { metadata } })),
  deleteDocument: (id: string) => ok(client.DELETE("/api/v1/documents/{document_id}", { params: documentPath(id) })),
  reingest: (id: string) => ok(client.POST("/api/v1/documents/{document_id}/reingest", { params: documentPath(id) })),
  // Multipart. The document types the file part as a string (format: binary): the form carries the File.
  upload: (collection: string, file: File, options: { onDuplicate: OnDuplicate; password: string }) =>
    ok(
      client.POST("/api/v1/collections/{name}/documents", {
        params: { path: { name: collection } },
        body: { file: file.name, on_duplicate: options.onDuplicate, password: options.password || undefined },
        bodySerializer: ({ on_duplicate, password }) => {
          const form = new FormData();
          form.append("file", file, file.name);
          if (on_duplicate) form.append("on_duplicate", on_duplicate);
          if (password) form.append("password", password);
          return form;
        },
      }),
    ),

  // openapi-fetch widens tuples to arrays in what it returns; the schema's type keeps highlights' [start, end].
  search: (body: SearchRequest) => ok(client.POST("/api/v1/search", { body })) as Promise<SearchResponse>,

  job: (id: string) => ok(client.GET("/api/v1/jobs/{job_id}", { params: jobPath(id) })),
  jobs: (status: JobStatus) => ok(client.GET("/api/v1/jobs", { params: { query: { status, limit: 100 } } })),
  retryJob: (id: string) => ok(client.POST("/api/v1/jobs/{job_id}/retry", { params: jobPath(id) })),
  queue: () => ok(client.GET("/api/v1/queue")),
  deadLetters: () => ok(client.GET("/api/v1/dlq", { params: { query: { limit: 100 } } })),
  replay: (id: string) => ok(client.POST("/api/v1/dlq/{job_id}/replay", { params: jobPath(id) })),
  purge: async (id: string): Promise<void> => {
    await ok(client.DELETE("/api/v1/dlq/{job_id}", { params: jobPath(id) }));
  },
  lastReconcile: () => ok(client.GET("/api/v1/admin/reconcile")),
  reconcile: () => ok(client.POST("/api/v1/admin/reconcile")),
  // Each check behind /readyz (which answers its status only), 200 whether ready or not.
  health: (): Promise<HealthReport> => ok(client.GET("/api/v1/admin/health")),
  originalUrl: (id: string) => `${API}/documents/${encodeURIComponent(id)}/original`,
};

// The original's bytes need the key header, which a plain link cannot send: fetch, then save the blob.
export async function downloadOriginal(document: { id: string; filename: string }): Promise<void> {
  const response = await send(api.originalUrl(document.id));
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(window.document.createElement("a"), { href: url, download: document.filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
