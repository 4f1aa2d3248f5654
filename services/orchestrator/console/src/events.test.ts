import { describe, expect, it } from "vitest";
import { parseSse } from "./events";

describe("parseSse", () => {
  it("keeps a message cut between two reads until its end arrives", () => {
    const [first, rest] = parseSse(': stream open\n\nid: 1-0\nevent: status\ndata: {"status":');
    expect(first).toEqual([]);
    const [second, left] = parseSse(rest + ' "running"}\n\nid: 2-0\nevent: progress\n');
    expect(second).toEqual([{ id: "1-0", event: "status", data: '{"status": "running"}' }]);
    expect(left).toBe("id: 2-0\nevent: progress\n");
  });

  it("skips comments and keep-alives, reads CRLF lines and joins multi-line data", () => {
    const [messages, rest] = parseSse(": keep-alive\r\n\r\nevent: progress\r\ndata: a\r\ndata: b\r\n\r\n");
    expect(messages).toEqual([{ id: null, event: "progress", data: "a\nb" }]);
    expect(rest).toBe("");
  });

  it("names a message without an event line 'message', and drops one without data", () => {
    const [messages] = parseSse("id: 9-1\n\ndata: x\n\n");
    expect(messages).toEqual([{ id: null, event: "message", data: "x" }]);
  });
});
