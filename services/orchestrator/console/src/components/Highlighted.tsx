import type { ReactNode } from "react";

// The hit's text with its highlight spans ([start, end) character offsets, as the API gives them) in <mark>.
export function Highlighted({ text, spans }: { text: string; spans: [number, number][] }) {
  const parts: ReactNode[] = [];
  let at = 0;
  const chars = Array.from(text); // offsets count code points, as Python's str does
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start) continue; // overlapping or empty: skip, never garble the text
    parts.push(chars.slice(at, start).join(""));
    parts.push(<mark key={start}>{chars.slice(start, end).join("")}</mark>);
    at = end;
  }
  parts.push(chars.slice(at).join(""));
  return <p className="hit-text">{parts}</p>;
}
