// Every call to /api/v1: the API key from session storage, and the error envelope
// ({"error": {"code", "message", "retryable"}}) turned into an ApiError the screens show as it is.
import type {
  ChunksPage,
  Collection,
  DeadLetter,
  DocumentRecord,
  Job,
  JobAccepted,
  Page,
  QueueStats,
  Readiness,
  ReconcileReport,
  SearchMode,
  SearchResponse,
  UploadAccepted,
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

async function failure(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  const retryAfter = Number(response.headers.get("Retry-After"));
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; retryable?: boolean } };
    if (body.error?.code) {
      const { code, message = "", retryable = false } = body.error;
      return new ApiError(response.status, code, message, retryable, retryAfterS);
    }
  } catch {
    // not our envelope (a proxy's page): fall through
  }
  const message = text.slice(0, 300) || response.statusText;
  return new ApiError(response.status, `http_${response.status}`, message, false, retryAfterS);
}

// Every request the console makes: the key header, a network failure as `network_error`, a refusal as the
// API's own error (401 also tells the app to ask for a key). Returns the successful response.
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
    if (response.status === 401) onUnauthorized();
    throw await failure(response);
  }
  return response;
}

export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await send(path.startsWith("/") ? path : `${API}/${path}`, init);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

function json(method: string, body: unknown): RequestInit {
  return { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

function query(params: Record<string, string | number | undefined | null | string[]>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, String(one));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const enc = encodeURIComponent;

export const api = {
  collections: () => request<Page<Collection>>(`collections${query({ limit: 1000 })}`),
  createCollection: (body: {
    name: string;
    chunking: { strategy?: string; max_tokens?: number };
    extract_metadata: boolean;
  }) => request<Collection>("collections", json("POST", body)),
  deleteCollection: (name: string) =>
    request<{ name: string; job_id: string }>(`collections/${enc(name)}`, { method: "DELETE" }),

  documents: (filters: {
    collection?: string;
    status?: string;
    filename?: string;
    metadata?: string[];
    cursor?: string;
  }) => request<Page<DocumentRecord>>(`documents${query({ ...filters, limit: 100 })}`),
  document: (id: string) => request<DocumentRecord>(`documents/${enc(id)}`),
  chunks: (id: string, cursor?: string) =>
    request<ChunksPage>(`documents/${enc(id)}/chunks${query({ cursor, limit: 100 })}`),
  patchMetadata: (id: string, metadata: Record<string, unknown>) =>
    request<DocumentRecord>(`documents/${enc(id)}`, json("PATCH", { metadata })),
  deleteDocument: (id: string) => request<JobAccepted>(`documents/${enc(id)}`, { method: "DELETE" }),
  reingest: (id: string) => request<JobAccepted>(`documents/${enc(id)}/reingest`, { method: "POST" }),
  upload: (collection: string, file: File, options: { onDuplicate: string; password: string }) => {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("on_duplicate", options.onDuplicate);
    if (options.password) form.append("password", options.password);
    return request<UploadAccepted>(`collections/${enc(collection)}/documents`, { method: "POST", body: form });
  },

  search: (body: {
    query: string;
    collections: string[];
    mode: SearchMode;
    top_k: number;
    filters?: Record<string, unknown>;
  }) => request<SearchResponse>("search", json("POST", body)),

  job: (id: string) => request<Job>(`jobs/${enc(id)}`),
  jobs: (status: string) => request<Page<Job>>(`jobs${query({ status, limit: 100 })}`),
  retryJob: (id: string) => request<Job>(`jobs/${enc(id)}/retry`, { method: "POST" }),
  queue: () => request<QueueStats>("queue"),
  deadLetters: () => request<Page<DeadLetter>>(`dlq${query({ limit: 100 })}`),
  replay: (id: string) => request<Job>(`dlq/${enc(id)}/replay`, { method: "POST" }),
  purge: (id: string) => request<void>(`dlq/${enc(id)}`, { method: "DELETE" }),
  lastReconcile: () => request<ReconcileReport>("admin/reconcile"),
  reconcile: () => request<ReconcileReport>("admin/reconcile", { method: "POST" }),
  // /readyz answers 503 with the same report when something is down: both are a report to show. It is
  // not behind the key, and its 503 is not the error envelope, so it does not go through send().
  readiness: async (): Promise<Readiness> => {
    let response: Response;
    try {
      response = await fetch("/readyz");
    } catch (exc) {
      throw unanswered(exc);
    }
    const text = await response.text();
    try {
      const report = JSON.parse(text) as Readiness;
      if (report && typeof report.checks === "object") return report;
    } catch {
      // not the report (a proxy's error page): fall through
    }
    throw new ApiError(response.status, `http_${response.status}`, text.slice(0, 300) || response.statusText);
  },
  originalUrl: (id: string) => `${API}/documents/${enc(id)}/original`,
};

// The original's bytes need the key header, which a plain link cannot send: fetch, then save the blob.
export async function downloadOriginal(document: { id: string; filename: string }): Promise<void> {
  const response = await send(api.originalUrl(document.id));
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(window.document.createElement("a"), { href: url, download: document.filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
