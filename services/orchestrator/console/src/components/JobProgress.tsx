import { useEffect, useRef, useState } from "react";
import { followJob, type JobView } from "../events";
import { describe, percent } from "../progress";
import { FINAL_JOB_STATUSES } from "../contracts";

// One live bar per job, fed by its Server-Sent Events; `label` names what the job works on.
export function JobProgress({
  jobId,
  label,
  onEnd,
}: {
  jobId: string;
  label: string;
  onEnd?: (view: JobView) => void;
}) {
  const [view, setView] = useState<JobView>({ status: "queued", stage: null, progress: null, error: null });
  const ended = useRef(onEnd);
  useEffect(() => {
    ended.current = onEnd; // the latest, for a job that ends after the bar was rendered again
  });
  useEffect(() => {
    const abort = new AbortController();
    followJob(jobId, setView, abort.signal).then((last) => {
      if (!abort.signal.aborted) ended.current?.(last);
    });
    return () => abort.abort();
  }, [jobId]);
  const text = describe(view);
  const value = percent(view);
  return (
    <div className="job" data-job-id={jobId} data-status={view.status}>
      <div className="job-label">
        <span>{label}</span>
        <span className="job-state">{text}</span>
      </div>
      <progress max={100} value={value ?? undefined} aria-label={`${label}: ${text}`} />
      {/* Screen readers hear the end of a job, not each of its progress reports. */}
      <span className="sr-only" role="status">
        {FINAL_JOB_STATUSES.has(view.status) ? `${label}: ${text}` : ""}
      </span>
      {view.error && (
        <div className="error small" role="alert" data-code={view.error.code}>
          <strong className="error-code">{view.error.code}</strong>: {view.error.message}
        </div>
      )}
    </div>
  );
}
