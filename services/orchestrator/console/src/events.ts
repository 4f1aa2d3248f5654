// A job's Server-Sent Events (GET /api/v1/jobs/{id}/events), read with fetch rather than EventSource:
// EventSource cannot send the Authorization header. A dropped stream is resumed with Last-Event-ID, and
// the job record is read once at the start so a job that ended before we subscribed still shows its end.
import { API, ApiError, api, send } from "./api";
import { FINAL_JOB_STATUSES } from "./contracts";
import type { Job, Progress } from "./types";

export interface JobView {
  status: string;
  stage: string | null;
  progress: Progress | null;
  error: { code: string; message: string } | null;
}

export function jobView(job: Job): JobView {
  return { status: job.status, stage: job.stage ?? null, progress: job.progress ?? null, error: job.error ?? null };
}

// The stream's events carry fields of the job record (GET /api/v1/jobs/{job_id}), so they are typed from it.
type StatusEvent = Pick<Job, "status">;
type ProgressEvent = Partial<Pick<Job, "stage" | "progress">>;

interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

// Splits a text/event-stream buffer into complete messages; returns them and what is left over.
export function parseSse(buffer: string): [SseMessage[], string] {
  const messages: SseMessage[] = [];
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let id: string | null = null;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue; // comments: "stream open", keep-alives
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) messages.push({ id, event, data: data.join("\n") });
  }
  return [messages, rest];
}

const RECONNECT_MS = 1_000;
const POLL_MS = 1_000;
// A browser opens at most 6 HTTP/1.1 connections per host and an event stream holds one for as long as its
// job runs: only this many bars stream at once, the rest poll their job until a stream is free, so uploads,
// lists and searches always find a connection.
const MAX_STREAMS = 3;
let openStreams = 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterMs(exc: unknown): number {
  const seconds = exc instanceof ApiError ? exc.retryAfterS : null;
  return seconds !== null && seconds > 0 ? Math.min(seconds, 60) * 1000 : RECONNECT_MS;
}

// Reads one event stream until the job ends, the stream drops or `signal` aborts.
async function stream(
  jobId: string,
  lastId: string | null,
  signal: AbortSignal,
  apply: (event: string, data: unknown, id: string | null) => boolean,
): Promise<void> {
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  if (lastId) headers["Last-Event-ID"] = lastId;
  const response = await send(`${API}/jobs/${encodeURIComponent(jobId)}/events`, { headers, signal });
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const [messages, rest] = parseSse(buffer + value);
      buffer = rest;
      for (const message of messages) {
        if (apply(message.event, JSON.parse(message.data), message.id)) return;
      }
    }
  } finally {
    // Frees the connection (and the server's stream slot) however the read ended.
    reader.cancel().catch(() => {});
  }
}

// Follows a job until it ends (or `signal` aborts), calling onChange with each new state; resolves with
// the last state. Never throws: an error the API gives for the job itself ends the follow with that error.
export async function followJob(
  jobId: string,
  onChange: (view: JobView) => void,
  signal: AbortSignal,
): Promise<JobView> {
  let view: JobView = { status: "queued", stage: null, progress: null, error: null };
  let lastId: string | null = null;
  const update = (patch: Partial<JobView>) => {
    view = { ...view, ...patch };
    onChange(view);
  };
  // Returns true once the job has ended.
  const apply = (event: string, data: unknown, id: string | null): boolean => {
    if (id) lastId = id;
    if (event === "progress") {
      const reported = data as ProgressEvent;
      const stage = reported.stage ?? view.stage;
      // A new stage without a count of its own must not show the last stage's count.
      const progress: Progress | null = reported.progress ?? (stage === view.stage ? view.progress : null);
      update({ stage, progress });
    } else if (event === "status") {
      update({ status: String((data as StatusEvent).status) });
    }
    return FINAL_JOB_STATUSES.has(view.status);
  };
  while (!signal.aborted) {
    let wait = POLL_MS;
    try {
      const job = await api.job(jobId);
      update(jobView(job));
      if (FINAL_JOB_STATUSES.has(job.status)) return view;
      if (openStreams < MAX_STREAMS) {
        openStreams += 1;
        try {
          await stream(jobId, lastId, signal, apply);
        } finally {
          openStreams -= 1;
        }
        wait = 0; // dropped or ended: read the record at once (the final one carries the error)
      }
    } catch (exc) {
      if (signal.aborted) break;
      if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500 && exc.status !== 429) {
        update({ status: "unknown", error: { code: exc.code, message: exc.message } });
        return view; // the job is gone, or the key refused: retrying would not change that
      }
      wait = retryAfterMs(exc);
    }
    await sleep(wait);
  }
  return view;
}
