import { useState } from "react";
import { api, downloadOriginal } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { JobProgress } from "../components/JobProgress";
import { ago, bytes, pages } from "../format";
import { navigate, useAction, useLoad } from "../hooks";
import type { ChunksPage } from "../types";

function MetadataEditor({
  id,
  metadata,
  onSaved,
}: {
  id: string;
  metadata: Record<string, unknown>;
  onSaved: () => void;
}) {
  const saved = JSON.stringify(metadata, null, 2);
  const [text, setText] = useState(saved);
  const action = useAction();
  const save = async () => {
    const next = await action.run(async () => {
      const parsed: unknown = JSON.parse(text);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
        throw new Error("metadata must be a JSON object");
      // PATCH merges: a key left out of the edit is removed with an explicit null.
      const patch: Record<string, unknown> = { ...(parsed as Record<string, unknown>) };
      for (const key of Object.keys(metadata)) if (!Object.hasOwn(patch, key)) patch[key] = null;
      return api.patchMetadata(id, patch);
    });
    if (next) onSaved();
  };
  return (
    <div className="panel">
      <label className="block">
        Metadata (JSON object)
        <textarea rows={5} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
      </label>
      <button type="button" onClick={save} disabled={action.busy}>
        Save metadata
      </button>
      <ErrorBanner error={action.error} onDismiss={action.clear} />
    </div>
  );
}

// The searchable generation's chunks, a page at a time (another generation is another list: see its key).
function Chunks({ id }: { id: string }) {
  const first = useLoad(() => api.chunks(id), [id]);
  const [next, setNext] = useState<ChunksPage[]>([]);
  const action = useAction();
  const loaded = first.data ? [first.data, ...next] : [];
  const chunks = loaded.flatMap((page) => page.chunks);
  const cursor = loaded.at(-1)?.next_cursor ?? null;
  const more = async (from: string) => {
    const page = await action.run(() => api.chunks(id, from));
    if (page) setNext((list) => [...list, page]);
  };
  return (
    <section aria-labelledby="chunks-title">
      <h2 id="chunks-title">Chunks</h2>
      <ErrorBanner error={first.error ?? action.error} />
      {!chunks.length && !first.loading && <p className="muted">No searchable chunks.</p>}
      <ol className="chunks">
        {chunks.map((c) => (
          <li key={c.chunk_id} className="chunk" data-chunk={c.index}>
            <div className="chunk-meta">
              <span>#{c.index}</span>
              {c.heading_path.length > 0 && <span className="heading-path">{c.heading_path.join(" › ")}</span>}
              {c.pages.length > 0 && <span>{pages(c.pages)}</span>}
            </div>
            <p>{c.text}</p>
          </li>
        ))}
      </ol>
      {cursor && (
        <button type="button" onClick={() => more(cursor)} disabled={action.busy}>
          More chunks
        </button>
      )}
    </section>
  );
}

export function DocumentPage({ id }: { id: string }) {
  const doc = useLoad(() => api.document(id), [id]);
  const [jobs, setJobs] = useState<{ jobId: string; label: string }[]>([]);
  const [confirming, setConfirming] = useState(false);
  const action = useAction();
  const d = doc.data;
  const reingest = async () => {
    const accepted = await action.run(() => api.reingest(id));
    if (accepted) setJobs((list) => [...list, { jobId: accepted.job_id, label: "Re-ingest" }]);
    doc.reload();
  };
  const remove = async () => {
    setConfirming(false);
    const accepted = await action.run(() => api.deleteDocument(id));
    if (accepted) setJobs((list) => [...list, { jobId: accepted.job_id, label: "Delete" }]);
    doc.reload();
  };
  return (
    <section aria-labelledby="document-title">
      <p>
        <a href={d ? `#/documents/${encodeURIComponent(d.collection)}` : "#/documents"}>← Documents</a>
      </p>
      <h1 id="document-title">{d?.filename ?? id}</h1>
      <ErrorBanner error={doc.error ?? action.error} onDismiss={action.clear} />
      {d && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <span className={`status status-${d.status}`} data-testid="document-status">
                {d.status}
              </span>
              {d.error && (
                <span className="error-inline">
                  {" "}
                  <strong>{d.error.code}</strong>: {d.error.message}
                </span>
              )}
            </dd>
            <dt>Collection</dt>
            <dd>{d.collection}</dd>
            <dt>Format</dt>
            <dd>{d.format ?? "—"}</dd>
            <dt>Pages</dt>
            <dd>{d.pages || "—"}</dd>
            <dt>Chunks</dt>
            <dd>{d.chunk_count}</dd>
            <dt>Size</dt>
            <dd>{bytes(d.size_bytes)}</dd>
            <dt>Generation</dt>
            <dd>{d.generation}</dd>
            <dt>Updated</dt>
            <dd>{ago(d.updated_at_ms)}</dd>
            <dt>Id</dt>
            <dd>
              <code>{d.id}</code>
            </dd>
          </dl>
          {d.extracted && (
            <details>
              <summary>Extracted metadata</summary>
              <pre>{JSON.stringify(d.extracted, null, 2)}</pre>
            </details>
          )}
          <div className="row">
            <button type="button" onClick={() => action.run(() => downloadOriginal({ id, filename: d.filename }))}>
              Download original
            </button>
            <button type="button" onClick={reingest} disabled={action.busy}>
              Re-ingest
            </button>
            {confirming ? (
              <>
                <button type="button" className="danger" onClick={remove} autoFocus>
                  Confirm delete
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Keep
                </button>
              </>
            ) : (
              <button type="button" onClick={() => setConfirming(true)} disabled={d.status === "deleting"}>
                Delete document
              </button>
            )}
          </div>
          {jobs.map((j) => (
            <JobProgress
              key={j.jobId}
              jobId={j.jobId}
              label={j.label}
              onEnd={() => (j.label === "Delete" ? navigate("documents", d.collection) : doc.reload())}
            />
          ))}
          {/* Other metadata starts the editor afresh; a reload with the same (a job ended, another button)
              leaves an edit in progress alone. */}
          <MetadataEditor
            key={JSON.stringify(d.metadata ?? {})}
            id={id}
            metadata={d.metadata ?? {}}
            onSaved={doc.reload}
          />
          <Chunks key={`${id}:${d.generation}`} id={id} />
        </>
      )}
    </section>
  );
}
