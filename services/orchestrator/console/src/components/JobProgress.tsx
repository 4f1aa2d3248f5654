import { useEffect, useState } from "react";
import { followJob, type JobView } from "../events";

// Parse fills the first 40% of the bar, embedding the next 55%; the rest is chunking and the commit.
const STAGE_SPAN: Record<string, [number, number]> = {
  parse: [0, 40],
  metadata: [40, 42],
  chunk: [42, 45],
  embed: [45, 95],
  commit: [95, 99],
};

export function percent(view: JobView): number {
  if (view.status === "succeeded") return 100;
  const span = view.stage ? STAGE_SPAN[view.stage] : undefined;
  const p = view.progress;
  if (!span) return view.status === "running" ? 2 : 0;
  const share = p && p.total ? Math.min(1, p.done / p.total) : 0;
  return Math.round(span[0] + (span[1] - span[0]) * share);
}

function describe(view: JobView): string {
  if (view.status === "succeeded") return "done";
  if (view.status !== "running") return view.status;
  const p = view.progress;
  const count = p ? ` ${p.done}${p.total !== null ? `/${p.total}` : ""} ${p.unit}` : "";
  return `${view.stage ?? "starting"}${count}`;
}

// One live bar per job, fed by its Server-Sent Events; `label` names what the job works on.
export function JobProgress({ jobId, label, onEnd }: { jobId: string; label: string; onEnd?: (view: JobView) => void }) {
  const [view, setView] = useState<JobView>({ status: "queued", stage: null, progress: null, error: null });
  useEffect(() => {
    const abort = new AbortController();
    followJob(jobId, setView, abort.signal).then(() => {
      if (!abort.signal.aborted) setView((last) => (onEnd?.(last), last));
    });
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [jobId]);
  const text = describe(view);
  return (
    <div className="job" data-job-id={jobId} data-status={view.status}>
      <div className="job-label">
        <span>{label}</span>
        <span className="job-state">{text}</span>
      </div>
      <progress max={100} value={percent(view)} aria-label={`${label}: ${text}`} />
      {view.error && (
        <div className="error small" role="alert" data-code={view.error.code}>
          <strong className="error-code">{view.error.code}</strong>: {view.error.message}
        </div>
      )}
    </div>
  );
}
