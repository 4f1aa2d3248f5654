import { useState, type FormEvent } from "react";
import { api } from "../api";
import { CHUNK_STRATEGIES } from "../contracts";
import { ErrorBanner } from "../components/ErrorBanner";
import { Table } from "../components/Table";
import { JobProgress } from "../components/JobProgress";
import { ago } from "../format";
import { useAction, useLoad } from "../hooks";
import type { ChunkOptions, ChunkStrategy } from "../types";

function CreateCollection({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [strategy, setStrategy] = useState<ChunkStrategy | "">("");
  const [maxTokens, setMaxTokens] = useState("");
  const [extract, setExtract] = useState(false);
  const action = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const chunking: ChunkOptions = {
      ...(strategy ? { strategy } : {}),
      ...(maxTokens ? { max_tokens: Number(maxTokens) } : {}),
    };
    const created = await action.run(() => api.createCollection({ name, chunking, extract_metadata: extract }));
    if (created) {
      setName("");
      onCreated();
    }
  };
  return (
    <form className="panel" onSubmit={submit} aria-labelledby="create-collection">
      <h2 id="create-collection">New collection</h2>
      <div className="row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="papers" />
        </label>
        <label>
          Chunking strategy
          <select value={strategy} onChange={(e) => setStrategy(e.target.value as ChunkStrategy | "")}>
            <option value="">server default</option>
            {CHUNK_STRATEGIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Chunk size (tokens)
          <input
            type="number"
            min={16}
            max={8192}
            value={maxTokens}
            onChange={(e) => setMaxTokens(e.target.value)}
            placeholder="model's"
          />
        </label>
        <label className="check">
          <input type="checkbox" checked={extract} onChange={(e) => setExtract(e.target.checked)} />
          Extract metadata
        </label>
        <button type="submit" disabled={action.busy}>
          Create
        </button>
      </div>
      <ErrorBanner error={action.error} onDismiss={action.clear} />
    </form>
  );
}

export function Collections() {
  const collections = useLoad(() => api.collections(), []);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [deletes, setDeletes] = useState<{ name: string; jobId: string }[]>([]);
  const action = useAction();
  const remove = async (name: string) => {
    setConfirming(null);
    const accepted = await action.run(() => api.deleteCollection(name));
    if (accepted) {
      setDeletes((list) => [...list, { name, jobId: accepted.job_id }]);
      collections.reload();
    }
  };
  return (
    <section aria-labelledby="collections-title">
      <h1 id="collections-title">Collections</h1>
      <CreateCollection onCreated={collections.reload} />
      <ErrorBanner error={collections.error ?? action.error} onDismiss={action.clear} />
      {deletes.map((d) => (
        <JobProgress key={d.jobId} jobId={d.jobId} label={`Deleting collection ${d.name}`} onEnd={collections.reload} />
      ))}
      <Table
        caption="Collections"
        columns={["Name", "Documents", "Chunks", "Chunking", "Metadata extraction", "Created", "Actions"]}
      >
        {collections.data?.items.map((c) => (
          <tr key={c.name} data-collection={c.name}>
            <td>
              <a href={`#/documents/${encodeURIComponent(c.name)}`}>{c.name}</a>
            </td>
            <td className="num">{c.document_count}</td>
            <td className="num">{c.chunk_count}</td>
            <td>
              {String(c.chunking?.strategy ?? "default")}
              {c.chunking?.max_tokens ? ` · ${String(c.chunking.max_tokens)} tokens` : ""}
            </td>
            <td>{c.extract_metadata ? "on" : "off"}</td>
            <td>{ago(c.created_at_ms)}</td>
            <td>
              {confirming === c.name ? (
                <>
                  <button type="button" className="danger" onClick={() => remove(c.name)} autoFocus>
                    Confirm delete {c.name}
                  </button>
                  <button type="button" onClick={() => setConfirming(null)}>
                    Keep
                  </button>
                </>
              ) : (
                <button type="button" onClick={() => setConfirming(c.name)} aria-label={`Delete collection ${c.name}`}>
                  Delete
                </button>
              )}
            </td>
          </tr>
        ))}
      </Table>
      {collections.data && !collections.data.items.length && (
        <p className="muted">No collections yet: create one above.</p>
      )}
    </section>
  );
}
