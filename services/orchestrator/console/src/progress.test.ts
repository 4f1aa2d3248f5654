import { describe as group, expect, it } from "vitest";
import type { JobView } from "./events";
import { describe, percent } from "./progress";

const view = (patch: Partial<JobView>): JobView => ({
  status: "running",
  stage: null,
  progress: null,
  error: null,
  ...patch,
});

group("a job's bar", () => {
  it("only moves forward through the saga's stages, and is full when the job succeeded", () => {
    const steps = [
      view({ status: "queued" }),
      view({}),
      view({ stage: "parse", progress: { done: 0, total: 10, unit: "pages" } }),
      view({ stage: "parse", progress: { done: 10, total: 10, unit: "pages" } }),
      view({ stage: "chunk", progress: { done: 30, total: 30, unit: "chunks" } }),
      view({ stage: "embed", progress: { done: 0, total: 30, unit: "chunks embedded" } }),
      view({ stage: "embed", progress: { done: 15, total: 30, unit: "chunks embedded" } }),
      view({ stage: "commit" }),
      view({ status: "succeeded", stage: "commit" }),
    ];
    const measured = steps.map(percent);
    expect(measured).not.toContain(null); // every ingest stage is measured
    const values = measured as number[];
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(values.at(-1)).toBe(100);
    expect(values.slice(0, -1).every((v) => v < 100)).toBe(true);
  });

  it("says done, a final status, or the stage with its count", () => {
    expect(describe(view({ status: "succeeded" }))).toBe("done");
    expect(describe(view({ status: "dead" }))).toBe("dead");
    expect(describe(view({ stage: "embed", progress: { done: 4, total: 9, unit: "chunks embedded" } }))).toBe(
      "embed 4/9 chunks embedded",
    );
    expect(describe(view({ stage: "parse", progress: { done: 50, total: null, unit: "pages" } }))).toBe(
      "parse 50 pages",
    );
  });

  it("is indeterminate for a running stage it cannot measure, such as a delete's", () => {
    expect(percent(view({ stage: "delete vectors" }))).toBeNull();
    expect(percent(view({ status: "succeeded", stage: "delete records" }))).toBe(100);
  });

  it("never passes 100 when a count overshoots its total", () => {
    expect(percent(view({ stage: "embed", progress: { done: 40, total: 30, unit: "chunks embedded" } }))).toBeLessThan(
      100,
    );
  });
});
