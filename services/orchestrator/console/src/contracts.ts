// The API's enumerations and limits the console offers in its controls. Each mirrors a Python definition;
// tests/orchestrator/api/test_console_contracts.py fails when the two differ, so this file changes with them.

export const DOCUMENT_STATUSES = ["queued", "processing", "ready", "failed", "cancelled", "deleting"] as const;
export const FINAL_JOB_STATUSES = new Set(["succeeded", "failed", "cancelled", "dead"]);
export const SEARCH_MODES = ["hybrid", "dense", "lexical"] as const;
export const CHUNK_STRATEGIES = ["markdown", "sentence", "token", "hierarchical", "docling_hybrid"] as const;
export const ON_DUPLICATE = ["reject", "skip", "replace"] as const;
export const MAX_SEARCH_COLLECTIONS = 32;
