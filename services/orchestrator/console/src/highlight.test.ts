import { describe, expect, it } from "vitest";
import { segments } from "./highlight";

const marked = (text: string, spans: [number, number][]) =>
  segments(text, spans)
    .filter((s) => s.marked)
    .map((s) => s.text);

describe("segments", () => {
  it("marks the spans and keeps every character in order", () => {
    const parts = segments("ducks swim in the lake", [
      [6, 10],
      [18, 22],
    ]);
    expect(parts.map((p) => p.text).join("")).toBe("ducks swim in the lake");
    expect(parts.filter((p) => p.marked).map((p) => p.text)).toEqual(["swim", "lake"]);
  });

  it("counts offsets in code points, as the API (Python) does", () => {
    // "🦆" is one code point but two UTF-16 units: slicing by units would mark "swi" and a broken pair.
    expect(marked("🦆 swim", [[2, 6]])).toEqual(["swim"]);
  });

  it("skips overlapping, empty and out-of-range spans rather than garbling the text", () => {
    const text = "lake lake";
    const parts = segments(text, [
      [0, 4],
      [2, 6],
      [5, 5],
      [5, 99],
    ]);
    expect(parts.map((p) => p.text).join("")).toBe(text);
    expect(parts.filter((p) => p.marked).map((p) => p.text)).toEqual(["lake"]);
  });

  it("sorts spans the API gave out of order", () => {
    expect(
      marked("a b c", [
        [4, 5],
        [0, 1],
      ]),
    ).toEqual(["a", "c"]);
  });
});
