import type { JobView } from "./events";

// Parse fills the first 40% of a job's bar and embedding the next 50%; the rest is chunking and the commit.
const STARTED = 2; // running, before its first report: the bar shows it has begun
const STAGE_SPAN: Record<string, [number, number]> = {
  parse: [STARTED, 40],
  metadata: [40, 42],
  chunk: [42, 45],
  embed: [45, 95],
  commit: [95, 99],
};

export function percent(view: JobView): number {
  if (view.status === "succeeded") return 100;
  const span = view.stage ? STAGE_SPAN[view.stage] : undefined;
  if (!span) return view.status === "running" ? STARTED : 0;
  const p = view.progress;
  const share = p && p.total ? Math.min(1, p.done / p.total) : 0;
  return Math.round(span[0] + (span[1] - span[0]) * share);
}

// What the bar says: "done", a final status, or the stage with its count ("embed 40/120 chunks embedded").
export function describe(view: JobView): string {
  if (view.status === "succeeded") return "done";
  if (view.status !== "running") return view.status;
  const p = view.progress;
  const count = p ? ` ${p.done}${p.total !== null ? `/${p.total}` : ""} ${p.unit}` : "";
  return `${view.stage ?? "starting"}${count}`;
}
