import { useState, type FormEvent } from "react";
import { api } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { Highlighted } from "../components/Highlighted";
import { pages, score } from "../format";
import { useAction, useLoad } from "../hooks";
import { MAX_SEARCH_COLLECTIONS, SEARCH_MODES } from "../contracts";
import type { SearchMode, SearchResponse } from "../types";

export function Search() {
  const collections = useLoad(() => api.collections(), []);
  const [query, setQuery] = useState("");
  const [picked, setPicked] = useState<string[] | null>(null);
  const [mode, setMode] = useState<SearchMode>("hybrid");
  const [topK, setTopK] = useState(10);
  const [filters, setFilters] = useState("");
  const [response, setResponse] = useState<SearchResponse | null>(null);
  const action = useAction();
  const names = collections.data?.items.map((c) => c.name) ?? [];
  // Every collection (up to the API's limit) until the user picks: a first search needs no set-up.
  const chosen = picked ?? names.slice(0, MAX_SEARCH_COLLECTIONS);
  const toggle = (name: string) =>
    setPicked(chosen.includes(name) ? chosen.filter((n) => n !== name) : [...chosen, name]);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const result = await action.run(async () => {
      let where: Record<string, unknown> | undefined;
      if (filters.trim()) {
        const parsed: unknown = JSON.parse(filters);
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
          throw new Error("filters must be a JSON object (a Chroma where)");
        where = parsed as Record<string, unknown>;
      }
      return api.search({ query, collections: chosen, mode, top_k: topK, filters: where });
    });
    if (result) setResponse(result);
  };
  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">Search</h1>
      <form className="panel" onSubmit={submit} role="search">
        <div className="row">
          <label className="grow">
            Query
            <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} required autoFocus />
          </label>
          <label>
            Mode
            <select value={mode} onChange={(e) => setMode(e.target.value as SearchMode)}>
              {SEARCH_MODES.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
          <label>
            Top k
            <input type="number" min={1} max={100} value={topK} onChange={(e) => setTopK(Number(e.target.value))} />
          </label>
          <button type="submit" disabled={action.busy}>
            Search
          </button>
        </div>
        <fieldset className="row">
          <legend>Collections (at most {MAX_SEARCH_COLLECTIONS})</legend>
          {names.map((name) => (
            <label key={name} className="check">
              <input type="checkbox" checked={chosen.includes(name)} onChange={() => toggle(name)} />
              {name}
            </label>
          ))}
          {!names.length && <span className="muted">no collections</span>}
        </fieldset>
        <label className="block">
          Filters (JSON, a Chroma where on document metadata; optional)
          <input value={filters} onChange={(e) => setFilters(e.target.value)} placeholder='{"team": "search"}' />
        </label>
      </form>
      <ErrorBanner error={collections.error ?? action.error} onDismiss={action.clear} />
      {response && (
        <>
          <p className="muted" aria-live="polite">
            {response.results.length} results ({response.mode})
          </p>
          <ol className="hits">
            {response.results.map((hit) => (
              <li key={hit.chunk_id} className="hit" data-document={hit.document_id}>
                <div className="hit-head">
                  <a href={`#/document/${encodeURIComponent(hit.document_id)}`} className="hit-file">
                    {hit.filename}
                  </a>
                  <span className="muted">{hit.collection}</span>
                  {hit.heading_path.length > 0 && <span className="heading-path">{hit.heading_path.join(" › ")}</span>}
                  {hit.pages.length > 0 && <span>{pages(hit.pages)}</span>}
                </div>
                <Highlighted text={hit.text} spans={hit.highlights ?? []} />
                <dl className="scores">
                  <dt>fused</dt>
                  <dd>{score(hit.scores?.fused)}</dd>
                  <dt>dense</dt>
                  <dd>{score(hit.scores?.dense)}</dd>
                  <dt>lexical</dt>
                  <dd>{score(hit.scores?.lexical)}</dd>
                </dl>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
