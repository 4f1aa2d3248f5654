import { useState, type FormEvent } from "react";
import { api } from "../api";
import { CollectionPicker } from "../components/CollectionPicker";
import { ErrorBanner } from "../components/ErrorBanner";
import { Table } from "../components/Table";
import { Uploader } from "../components/Uploader";
import { ago, bytes } from "../format";
import { navigate, useLoad } from "../hooks";
import { DOCUMENT_STATUSES } from "../contracts";
import type { DocumentStatus } from "../types";

interface Filters {
  status: DocumentStatus | "";
  filename: string;
  metadata: string; // key=value, comma-separated
}

export function Documents({ collection }: { collection: string }) {
  const collections = useLoad(() => api.collections(), []);
  const [draft, setDraft] = useState<Filters>({ status: "", filename: "", metadata: "" });
  const [filters, setFilters] = useState<Filters>(draft);
  const documents = useLoad(
    () =>
      api.documents({
        collection: collection || undefined,
        status: filters.status || undefined,
        filename: filters.filename || undefined,
        metadata: filters.metadata
          .split(",")
          .map((p) => p.trim())
          .filter(Boolean),
      }),
    [collection, filters],
  );
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
  };
  return (
    <section aria-labelledby="documents-title">
      <h1 id="documents-title">Documents</h1>
      <div className="row">
        <CollectionPicker
          collections={collections.data?.items ?? []}
          value={collection}
          onChange={(name) => (name ? navigate("documents", name) : navigate("documents"))}
          allowAll
        />
      </div>
      <ErrorBanner error={collections.error} />
      {collection && <Uploader collection={collection} onChange={documents.reload} />}
      <form className="panel row" onSubmit={apply} aria-label="Filter documents">
        <label>
          Status
          <select
            value={draft.status}
            onChange={(e) => setDraft({ ...draft, status: e.target.value as DocumentStatus | "" })}
          >
            <option value="">any</option>
            {DOCUMENT_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Filename contains
          <input value={draft.filename} onChange={(e) => setDraft({ ...draft, filename: e.target.value })} />
        </label>
        <label>
          Metadata (key=value, …)
          <input
            value={draft.metadata}
            onChange={(e) => setDraft({ ...draft, metadata: e.target.value })}
            placeholder="team=search"
          />
        </label>
        <button type="submit">Filter</button>
        <button type="button" onClick={documents.reload}>
          Refresh
        </button>
      </form>
      <ErrorBanner error={documents.error} />
      <Table caption="Documents" columns={["Filename", "Collection", "Status", "Pages", "Chunks", "Size", "Updated"]}>
        {documents.data?.items.map((d) => (
          <tr key={d.id} data-document={d.id}>
            <td>
              <a href={`#/document/${encodeURIComponent(d.id ?? "")}`}>{d.filename}</a>
            </td>
            <td>{d.collection}</td>
            <td>
              <span className={`status status-${d.status}`}>{d.status}</span>
              {d.error && <span className="muted"> {d.error.code}</span>}
            </td>
            <td className="num">{d.pages || "—"}</td>
            <td className="num">{d.chunk_count}</td>
            <td className="num">{bytes(d.size_bytes)}</td>
            <td>{ago(d.updated_at_ms)}</td>
          </tr>
        ))}
      </Table>
      {documents.data && !documents.data.items.length && <p className="muted">No documents match.</p>}
      {documents.data?.next_cursor && (
        <p className="muted">Showing the newest 100; narrow the filters to see others.</p>
      )}
    </section>
  );
}
