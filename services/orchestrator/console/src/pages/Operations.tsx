import { useState } from "react";
import { ApiError, api } from "../api";
import { ErrorBanner } from "../components/ErrorBanner";
import { Table } from "../components/Table";
import { ago } from "../format";
import { count } from "../progress";
import { useAction, useLoad } from "../hooks";
import type { JobStatus, ReconcileReport } from "../types";

const REFRESH_MS = 3_000;

function Health() {
  const health = useLoad(() => api.health(), [], REFRESH_MS);
  // A process without a lexical index reports it as null: nothing to show.
  const checks = Object.entries(health.data?.checks ?? {}).flatMap(([name, check]) => (check ? [{ name, check }] : []));
  return (
    <section className="panel" aria-labelledby="health-title">
      <h2 id="health-title">
        Health <span className={`status status-${health.data?.status ?? "unknown"}`}>{health.data?.status ?? "…"}</span>
      </h2>
      <ErrorBanner error={health.error} />
      <ul className="health">
        {checks.flatMap(({ name, check }) =>
          "replicas" in check
            ? check.replicas.map((ok, index) => (
                <li key={`${name}-${index}`} data-ok={ok}>
                  <span className={ok ? "ok" : "bad"}>{ok ? "up" : "down"}</span> compute replica {index}
                </li>
              ))
            : [
                <li key={name} data-ok={check.ok}>
                  <span className={check.ok ? "ok" : "bad"}>{check.ok ? "up" : "down"}</span> {name}
                  {check.reason && <span className="muted"> {check.reason}</span>}
                </li>,
              ],
        )}
      </ul>
    </section>
  );
}

function Queue() {
  const queue = useLoad(() => api.queue(), [], REFRESH_MS);
  const q = queue.data;
  return (
    <section className="panel" aria-labelledby="queue-title">
      <h2 id="queue-title">Queue</h2>
      <ErrorBanner error={queue.error} />
      {q && (
        <>
          <Table caption="Queue depths by priority" columns={["Priority", "Waiting", "In flight"]}>
            {Object.entries(q.streams).map(([priority, depth]) => (
              <tr key={priority}>
                <td>{priority}</td>
                <td className="num">{depth.waiting}</td>
                <td className="num">{depth.in_flight}</td>
              </tr>
            ))}
          </Table>
          <p>
            Delayed retries: <strong>{q.delayed}</strong> · dead letters:{" "}
            <strong data-testid="dead-count">{q.dead}</strong>
          </p>
          <h3>Workers</h3>
          <Table caption="Workers" columns={["Worker", "Host / pid", "Concurrency", "Running", "Heartbeat", "Started"]}>
            {q.workers.map((w) => (
              <tr key={w.id}>
                <td>
                  <code>{w.id}</code>
                </td>
                <td>
                  {w.host} / {w.pid}
                </td>
                <td className="num">{w.concurrency}</td>
                <td className="num">{w.in_flight?.length ?? 0}</td>
                <td>{ago(w.last_beat_at_ms)}</td>
                <td>{ago(w.started_at_ms)}</td>
              </tr>
            ))}
          </Table>
          {!q.workers.length && <p className="bad">No live workers: queued jobs wait.</p>}
        </>
      )}
    </section>
  );
}

function JobsList({ status, title, action }: { status: JobStatus; title: string; action?: "retry" }) {
  const jobs = useLoad(() => api.jobs(status), [status], REFRESH_MS);
  const act = useAction();
  return (
    <section className="panel" aria-labelledby={`jobs-${status}`}>
      <h2 id={`jobs-${status}`}>{title}</h2>
      <ErrorBanner error={jobs.error ?? act.error} onDismiss={act.clear} />
      <Table caption={title} columns={["Job", "Type", "Collection", "Stage", "Error", "Updated", action && "Action"]}>
        {jobs.data?.items.map((j) => (
          <tr key={j.id} data-job={j.id}>
            <td>
              {j.document_id ? (
                <a href={`#/document/${encodeURIComponent(j.document_id)}`}>{j.id}</a>
              ) : (
                <code>{j.id}</code>
              )}
            </td>
            <td>{j.type}</td>
            <td>{j.collection ?? "—"}</td>
            <td>{[j.stage ?? "—", count(j.progress)].filter(Boolean).join(" ")}</td>
            <td>{j.error ? `${j.error.code}: ${j.error.message}` : "—"}</td>
            <td>{ago(j.updated_at_ms)}</td>
            {action && (
              <td>
                <button
                  type="button"
                  onClick={() => act.run(() => api.retryJob(j.id)).then(jobs.reload)}
                  aria-label={`Retry job ${j.id}`}
                >
                  Retry
                </button>
              </td>
            )}
          </tr>
        ))}
      </Table>
      {jobs.data && !jobs.data.items.length && <p className="muted">None.</p>}
    </section>
  );
}

function DeadLetters() {
  const letters = useLoad(() => api.deadLetters(), [], REFRESH_MS);
  const act = useAction();
  const [done, setDone] = useState<string | null>(null);
  const replay = async (id: string) => {
    const job = await act.run(() => api.replay(id));
    if (job) setDone(`Job ${id} queued again`);
    letters.reload();
  };
  const purge = async (id: string) => {
    await act.run(() => api.purge(id));
    letters.reload();
  };
  return (
    <section className="panel" aria-labelledby="dlq-title">
      <h2 id="dlq-title">Dead letters</h2>
      <ErrorBanner error={letters.error ?? act.error} onDismiss={act.clear} />
      {done && (
        <p role="status" className="ok">
          {done}
        </p>
      )}
      <Table caption="Dead letters" columns={["Job", "Type", "Reason", "Error", "Attempts", "When", "Actions"]}>
        {letters.data?.items.map((l) => (
          <tr key={l.entry_id} data-dead-job={l.job_id}>
            <td>
              <code>{l.job_id}</code>
            </td>
            <td>{l.type}</td>
            <td>{l.reason}</td>
            <td>
              {l.code}: {l.message}
            </td>
            <td className="num">{l.attempts}</td>
            <td>{ago(l.at_ms)}</td>
            <td>
              <button type="button" onClick={() => replay(l.job_id)} aria-label={`Replay job ${l.job_id}`}>
                Replay
              </button>
              <button type="button" onClick={() => purge(l.job_id)} aria-label={`Purge dead letter of job ${l.job_id}`}>
                Purge
              </button>
            </td>
          </tr>
        ))}
      </Table>
      {letters.data && !letters.data.items.length && <p className="muted">No dead letters.</p>}
    </section>
  );
}

function Reconciler() {
  const last = useLoad<ReconcileReport | null>(
    () =>
      api.lastReconcile().catch((exc: unknown) => {
        if (exc instanceof ApiError && exc.status === 404) return null; // no round has run yet
        throw exc;
      }),
    [],
  );
  const act = useAction();
  const run = async () => {
    await act.run(() => api.reconcile());
    last.reload();
  };
  const report = last.data;
  return (
    <section className="panel" aria-labelledby="reconcile-title">
      <h2 id="reconcile-title">Reconciler</h2>
      <ErrorBanner error={last.error ?? act.error} onDismiss={act.clear} />
      <button type="button" onClick={run} disabled={act.busy}>
        {act.busy ? "Reconciling…" : "Run reconcile now"}
      </button>
      {report === null && !last.loading && <p className="muted">No round has run yet.</p>}
      {report && (
        <>
          <p data-finished-at={report.finished_at_ms}>
            Last round finished {ago(report.finished_at_ms)} and took{" "}
            {((report.finished_at_ms - report.started_at_ms) / 1000).toFixed(2)} s.
          </p>
          <dl className="report">
            {Object.entries(report)
              .filter(([key]) => !key.endsWith("_at_ms"))
              .map(([key, value]) => (
                <div key={key}>
                  <dt>{key.replace(/_/g, " ")}</dt>
                  <dd>{Array.isArray(value) ? value.join(", ") || "none" : value}</dd>
                </div>
              ))}
          </dl>
        </>
      )}
    </section>
  );
}

export function Operations() {
  return (
    <section aria-labelledby="operations-title">
      <h1 id="operations-title">Operations</h1>
      <p className="muted">Refreshes every {REFRESH_MS / 1000} s.</p>
      <div className="grid">
        <Health />
        <Queue />
      </div>
      <JobsList status="running" title="Running jobs" />
      <DeadLetters />
      <JobsList status="failed" title="Failed jobs" action="retry" />
      <Reconciler />
    </section>
  );
}
