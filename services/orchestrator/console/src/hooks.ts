import { useCallback, useEffect, useState } from "react";

// The route is the URL's hash (#/search, #/documents/ID): the orchestrator serves one index.html.
function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // a malformed escape (#/document/%E0): the screen then says the id is not found
  }
}

export function useHashRoute(): string[] {
  const read = () => window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decode);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const changed = () => setParts(read());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return parts;
}

export function navigate(...parts: string[]): void {
  window.location.hash = "#/" + parts.map(encodeURIComponent).join("/");
}

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

// Loads `load()` now and on reload(); with `everyMs`, again that long after each answer (never while one
// is still on its way: a slow health report must not be overtaken and dropped). Keeps the last data on an error.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the effect starts the load it reports on
    setLoading(true);
    load()
      .then(
        (value) => {
          if (!current) return;
          setData(value);
          setError(null);
        },
        (exc: unknown) => {
          if (current) setError(exc);
        },
      )
      .finally(() => {
        if (!current) return;
        setLoading(false);
        if (everyMs) timer = setTimeout(reload, everyMs);
      });
    return () => {
      current = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, everyMs]);
  return { data, error, loading, reload };
}

// Runs an action, keeping its error for the screen to show; `busy` while it runs.
export function useAction(): {
  busy: boolean;
  error: unknown;
  run: <T>(action: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async <T>(action: () => Promise<T>) => {
    setBusy(true);
    setError(null);
    try {
      return await action();
    } catch (exc) {
      setError(exc);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(null) };
}
