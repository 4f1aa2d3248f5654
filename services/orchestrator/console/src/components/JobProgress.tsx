import { useEffect, useState } from "react";
import { followJob, type JobView } from "../events";
import { describe, percent } from "../progress";

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
