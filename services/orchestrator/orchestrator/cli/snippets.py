"""A result's text as the CLI prints it: a window around its first highlight, the matched words marked
(bold on a terminal, **like this** otherwise)."""

BEFORE_CHARS = 60  # context kept before the first match


def snippet(text: str, highlights: list[list[int]], *, width: int = 300, bold: bool = False) -> str:
    start = max(0, highlights[0][0] - BEFORE_CHARS) if highlights else 0
    end = min(len(text), start + width)
    open_mark, close_mark = ("\033[1m", "\033[0m") if bold else ("**", "**")
    out, at = [], start
    for lo, hi in highlights:
        lo, hi = max(lo, start), min(hi, end)
        if lo >= hi or lo < at:
            continue
        out += [text[at:lo], open_mark, text[lo:hi], close_mark]
        at = hi
    out.append(text[at:end])
    flat = " ".join("".join(out).split())
    return ("…" if start > 0 else "") + flat + ("…" if end < len(text) else "")
