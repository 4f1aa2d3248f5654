// A job's Server-Sent Events (GET /api/v1/jobs/{id}/events), read with fetch rather than EventSource:
// EventSource cannot send the Authorization header. A dropped stream is resumed with Last-Event-ID, and
// the job record is read once at the start so a job that ended before we subscribed still shows its end.
import { API, ApiError, api, authHeaders } from "./api";
import { FINAL_JOB_STATUSES, type Job, type Progress } from "./types";

export interface JobView {
  status: string;
  stage: string | null;
  progress: Progress | null;
  error: { code: string; message: string } | null;
}

export function jobView(job: Job): JobView {
  return { status: job.status, stage: job.stage, progress: job.progress, error: job.error };
}

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

// Calls onChange with the job's state until it ends (or `signal` aborts); never throws.
export async function followJob(
  jobId: string,
  onChange: (view: JobView) => void,
  signal: AbortSignal,
): Promise<void> {
  let view: JobView = { status: "queued", stage: null, progress: null, error: null };
  let lastId: string | null = null;
  const update = (patch: Partial<JobView>) => {
    view = { ...view, ...patch };
    onChange(view);
  };
  while (!signal.aborted) {
    try {
      const job = await api.job(jobId);
      update(jobView(job));
      if (FINAL_JOB_STATUSES.has(job.status)) return;
      const headers: Record<string, string> = { ...authHeaders(), Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(`${API}/jobs/${encodeURIComponent(jobId)}/events`, { headers, signal });
      if (!response.ok || !response.body) throw new ApiError(response.status, `http_${response.status}`, "event stream refused");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const [messages, rest] = parseSse(buffer + value);
        buffer = rest;
        for (const message of messages) {
          if (message.id) lastId = message.id;
          const data = JSON.parse(message.data) as Record<string, unknown>;
          if (message.event === "progress") {
            update({
              stage: (data.stage as string | undefined) ?? view.stage,
              progress: (data.progress as Progress | undefined) ?? view.progress,
            });
          } else if (message.event === "status") {
            update({ status: String(data.status) });
          }
        }
        if (FINAL_JOB_STATUSES.has(view.status)) break;
      }
      if (FINAL_JOB_STATUSES.has(view.status)) {
        update(jobView(await api.job(jobId))); // the final record carries the error, if any
        return;
      }
    } catch (exc) {
      if (signal.aborted) return;
      if (exc instanceof ApiError && (exc.status === 404 || exc.status === 401)) {
        update({ status: "unknown", error: { code: exc.code, message: exc.message } });
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}
