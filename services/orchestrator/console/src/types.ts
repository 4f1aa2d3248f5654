// The /api/v1 records the console reads (a subset of the orchestrator's OpenAPI schema).
import type { SEARCH_MODES } from "./contracts";

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Chunking {
  strategy?: string;
  max_tokens?: number;
}

export interface Collection {
  name: string;
  status: string;
  embedding_model: string | null;
  dim: number | null;
  extract_metadata: boolean;
  chunking: Chunking;
  metadata: Record<string, unknown>;
  created_at_ms: number;
  document_count: number;
  chunk_count: number;
}

export interface DocumentRecord {
  id: string;
  collection: string;
  filename: string;
  sha256: string;
  size_bytes: number;
  format: string | null;
  status: string;
  generation: number;
  chunk_count: number;
  pages: number | null;
  metadata: Record<string, unknown>;
  error: { code: string; message: string } | null;
  extracted: Record<string, unknown> | null;
  job_id: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface Chunk {
  chunk_id: string;
  index: number;
  text: string;
  heading_path: string[];
  pages: number[];
}

export interface ChunksPage {
  document_id: string;
  generation: number;
  chunks: Chunk[];
  next_cursor: string | null;
}

export interface Progress {
  done: number;
  total: number | null;
  unit: string;
}

export interface Job {
  id: string;
  type: string;
  status: string;
  priority: string;
  collection: string | null;
  document_id: string | null;
  stage: string | null;
  progress: Progress | null;
  attempts: number;
  error: { code: string; message: string; retryable: boolean } | null;
  dead_reason: string | null;
  worker: string | null;
  created_at_ms: number | null;
  updated_at_ms: number | null;
  finished_at_ms: number | null;
}

export interface UploadAccepted {
  document_id: string;
  job_id: string | null;
  duplicate: boolean;
}

export interface JobAccepted {
  job_id: string;
  document_id?: string | null;
}

export type SearchMode = (typeof SEARCH_MODES)[number];

export interface SearchHit {
  chunk_id: string;
  document_id: string;
  collection: string;
  filename: string;
  text: string;
  score: number;
  scores: { dense: number | null; lexical: number | null; fused: number | null };
  highlights: [number, number][];
  heading_path: string[];
  pages: number[];
  metadata: Record<string, unknown>;
}

export interface SearchResponse {
  query: string;
  mode: SearchMode;
  results: SearchHit[];
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  started_at_ms: number;
  last_beat_at_ms: number;
  in_flight: string[];
  counters: Record<string, number>;
}

export interface QueueStats {
  streams: Record<string, { waiting: number; in_flight: number }>;
  delayed: number;
  dead: number;
  workers: WorkerInfo[];
}

export interface DeadLetter {
  entry_id: string;
  job_id: string;
  type: string;
  reason: string;
  code: string;
  message: string;
  attempts: number;
  at_ms: number;
}

export type ReconcileReport = Record<string, number | string[]> & {
  started_at_ms: number;
  finished_at_ms: number;
};

export interface Readiness {
  status: string;
  checks: Record<string, { ok: boolean; error?: string; replicas?: Record<string, boolean>; [k: string]: unknown }>;
}
