export interface Segment {
  text: string;
  marked: boolean;
}

// Splits text at the API's highlight spans: [start, end) offsets in code points (Python's str indexes),
// not UTF-16 units. Overlapping, empty or out-of-range spans are skipped: the text is never garbled.
export function segments(text: string, spans: [number, number][]): Segment[] {
  const chars = Array.from(text);
  const out: Segment[] = [];
  let at = 0;
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start || end > chars.length) continue;
    if (start > at) out.push({ text: chars.slice(at, start).join(""), marked: false });
    out.push({ text: chars.slice(start, end).join(""), marked: true });
    at = end;
  }
  if (at < chars.length) out.push({ text: chars.slice(at).join(""), marked: false });
  return out;
}
