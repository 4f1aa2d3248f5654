import { useRef, useState, type DragEvent } from "react";
import { api } from "../api";
import { ON_DUPLICATE } from "../contracts";
import { limiter } from "../limit";
import type { OnDuplicate } from "../types";
import { ErrorBanner } from "./ErrorBanner";
import { JobProgress } from "./JobProgress";

// Two uploads at a time: a drop of fifty files must leave the browser's connections to this host (six)
// for the bars' event streams, the lists and searches.
const uploading = limiter(2);

interface Upload {
  key: string;
  filename: string;
  jobId: string | null;
  note: string | null;
  error: unknown;
}

// Many files at once, dropped or chosen: each is uploaded, then followed by its job's live bar.
export function Uploader({ collection, onChange }: { collection: string; onChange: () => void }) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [onDuplicate, setOnDuplicate] = useState<OnDuplicate>("reject");
  const [password, setPassword] = useState("");
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const counter = useRef(0);

  const send = (files: File[]) => {
    if (!collection) return;
    for (const file of files) {
      const key = `${++counter.current}`;
      const patch = (change: Partial<Upload>) =>
        setUploads((list) => list.map((u) => (u.key === key ? { ...u, ...change } : u)));
      setUploads((list) => [
        { key, filename: file.name, jobId: null, note: "waiting to upload…", error: null },
        ...list,
      ]);
      const options = { onDuplicate, password };
      uploading(() => (patch({ note: "uploading…" }), api.upload(collection, file, options))).then(
        (accepted) => {
          patch({ jobId: accepted.job_id, note: accepted.job_id ? null : "duplicate: kept the existing document" });
          onChange();
        },
        (error: unknown) => patch({ error, note: null }),
      );
    }
  };
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    send(Array.from(event.dataTransfer.files));
  };
  return (
    <div className="panel" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload to {collection || "…"}</h2>
      <div className="row">
        <label>
          If already there
          <select value={onDuplicate} onChange={(e) => setOnDuplicate(e.target.value as OnDuplicate)}>
            {ON_DUPLICATE.map((policy) => (
              <option key={policy}>{policy}</option>
            ))}
          </select>
        </label>
        <label>
          PDF password
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="off"
            placeholder="for encrypted PDFs"
          />
        </label>
      </div>
      <div
        className={`dropzone${over ? " over" : ""}${collection ? "" : " disabled"}`}
        data-testid="dropzone"
        role="button"
        tabIndex={0}
        aria-label="Drop files here, or press Enter to choose files"
        onDragOver={(e) => (e.preventDefault(), setOver(true))}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        onClick={() => input.current?.click()}
        onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), input.current?.click())}
      >
        {collection ? "Drop files here, or press Enter / click to choose" : "Choose a collection first"}
        <input
          ref={input}
          type="file"
          multiple
          hidden
          aria-label="Files to upload"
          onChange={(e) => (send(Array.from(e.target.files ?? [])), (e.target.value = ""))}
        />
      </div>
      <div className="uploads">
        {uploads.map((u) =>
          u.jobId ? (
            <JobProgress key={u.key} jobId={u.jobId} label={u.filename} onEnd={onChange} />
          ) : (
            <div key={u.key} className="job" data-status={u.error ? "rejected" : "uploading"}>
              <div className="job-label">
                <span>{u.filename}</span>
                <span className="job-state">{u.note}</span>
              </div>
              <ErrorBanner error={u.error} />
            </div>
          ),
        )}
      </div>
    </div>
  );
}
