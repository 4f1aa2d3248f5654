import { segments } from "../highlight";

// The hit's text with the words that matched the query in <mark>.
export function Highlighted({ text, spans }: { text: string; spans: [number, number][] }) {
  return (
    <p className="hit-text">
      {segments(text, spans).map((s, i) => (s.marked ? <mark key={i}>{s.text}</mark> : s.text))}
    </p>
  );
}
