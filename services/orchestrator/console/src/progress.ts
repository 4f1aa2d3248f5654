import type { JobView } from "./events";
import type { Progress } from "./types";

// Parse fills the first 40% of a job's bar and embedding the next 50%; the rest is chunking and the commit.
const STARTED = 2; // running, before its first report: the bar shows it has begun
const STAGE_SPAN: Record<string, [number, number]> = {
  parse: [STARTED, 40],
  metadata: [40, 42],
  chunk: [42, 45],
  embed: [45, 95],
  commit: [95, 99],
};

// The bar's value, or null for a running stage the bar cannot measure (a delete's stages): indeterminate.
export function percent(view: JobView): number | null {
  if (view.status === "succeeded") return 100;
  if (!view.stage) return view.status === "running" ? STARTED : 0;
  const span = STAGE_SPAN[view.stage];
  if (!span) return view.status === "running" ? null : 0;
  const p = view.progress;
  const share = p && p.total ? Math.min(1, p.done / p.total) : 0;
  return Math.round(span[0] + (span[1] - span[0]) * share);
}

// What the bar says: "done", a final status, or the stage with its count ("embed 40/120 chunks embedded").
// "40/120 chunks embedded", "50 pages" (no total known), or "" without a count.
export function count(progress: Progress | null | undefined): string {
  if (!progress) return "";
  return `${progress.done}${typeof progress.total === "number" ? `/${progress.total}` : ""} ${progress.unit}`;
}

export function describe(view: JobView): string {
  if (view.status === "succeeded") return "done";
  if (view.status !== "running") return view.status;
  return [view.stage ?? "starting", count(view.progress)].filter(Boolean).join(" ");
}
