"""The /api/v1 routes, one module per resource. Each route parses the request, calls one domain
operation and shapes the answer; none reads or writes Redis or Chroma itself."""
