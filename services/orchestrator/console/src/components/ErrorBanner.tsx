import { ApiError } from "../api";

// An API error as the API said it: its stable code and its message (never a blank screen).
export function ErrorBanner({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : "client_error";
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : "";
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="error" role="alert" data-code={code}>
      <strong className="error-code">{code}</strong>
      {status}: <span className="error-message">{message}</span>
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss error">
          ✕
        </button>
      )}
    </div>
  );
}
