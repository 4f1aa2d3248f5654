import { useEffect, useState, type FormEvent } from "react";
import { apiKey, setApiKey, whenUnauthorized } from "./api";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { useHashRoute } from "./hooks";
import { Collections } from "./pages/Collections";
import { DocumentPage } from "./pages/DocumentPage";
import { Documents } from "./pages/Documents";
import { Operations } from "./pages/Operations";
import { Search } from "./pages/Search";

const SCREENS = [
  ["collections", "Collections"],
  ["documents", "Documents"],
  ["search", "Search"],
  ["operations", "Operations"],
] as const;

// Asked once, kept in session storage (gone when the tab closes); in dev mode the API wants none.
function KeyPrompt({ onSaved }: { onSaved: () => void }) {
  const [key, setKey] = useState("");
  const save = (event: FormEvent) => {
    event.preventDefault();
    setApiKey(key.trim());
    onSaved();
  };
  return (
    <form className="panel keyprompt" onSubmit={save} aria-labelledby="key-title">
      <h2 id="key-title">API key</h2>
      <p>
        This server wants an API key ({apiKey() ? "the one given was refused" : "none given yet"}). It is kept in this
        tab's session storage only.
      </p>
      <div className="row">
        <label className="grow">
          API key
          <input
            type="password"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            required
            autoFocus
            autoComplete="off"
          />
        </label>
        <button type="submit">Use key</button>
      </div>
    </form>
  );
}

function Screen({ route }: { route: string[] }) {
  const [screen, arg = ""] = route;
  switch (screen) {
    case "documents":
      return <Documents collection={arg} />;
    case "document":
      return <DocumentPage id={arg} />;
    case "search":
      return <Search />;
    case "operations":
      return <Operations />;
    default:
      return <Collections />;
  }
}

export function App() {
  const route = useHashRoute();
  const [needKey, setNeedKey] = useState(false);
  const [session, setSession] = useState(0); // bumped when a key is given: every screen loads again
  useEffect(() => whenUnauthorized(() => setNeedKey(true)), []);
  const current = route[0] === "document" ? "documents" : (route[0] ?? "collections");
  return (
    <>
      <header>
        <a className="brand" href="#/collections">
          docsearch
        </a>
        <nav aria-label="Screens">
          {SCREENS.map(([id, title]) => (
            <a key={id} href={`#/${id}`} aria-current={current === id ? "page" : undefined}>
              {title}
            </a>
          ))}
        </nav>
        {apiKey() && (
          <button type="button" className="link" onClick={() => (setApiKey(null), setNeedKey(true))}>
            Forget API key
          </button>
        )}
      </header>
      <main>
        {needKey && (
          <KeyPrompt
            onSaved={() => {
              setNeedKey(false);
              setSession((n) => n + 1);
            }}
          />
        )}
        {/* A new key starts a screen afresh: a new session, another screen or another document. Another
            collection on the documents screen is a prop change, so the picker keeps the keyboard's focus. */}
        <ErrorBoundary key={`${session}:${route[0] ?? ""}:${route[0] === "document" ? route[1] : ""}`}>
          <Screen route={route} />
        </ErrorBoundary>
      </main>
    </>
  );
}
