// The /api/v1 records the console reads, named after the generated OpenAPI types (src/openapi.d.ts, from
// docs/openapi.json: `make openapi`), and the few shapes the document leaves open.
import type { components, paths } from "./openapi";

type Schemas = components["schemas"];

export type Collection = Schemas["CollectionOut"];
export type ChunkOptions = Schemas["ChunkOptions"];
export type ChunkStrategy = Schemas["ChunkStrategy"];
export type DocumentRecord = Schemas["Document"];
export type DocumentStatus = Schemas["DocumentStatus"];
export type ChunksPage = Schemas["ChunksPage"];
export type Job = Schemas["Job"];
export type JobStatus = Schemas["JobStatus"];
export type Progress = Schemas["Progress"];
export type SearchMode = Schemas["SearchMode"];
export type SearchRequest = Schemas["SearchRequest"];
export type SearchResponse = Schemas["SearchResponse"];
export type ReconcileReport = Schemas["ReconcileReport"];

type UploadForm =
  paths["/api/v1/collections/{name}/documents"]["post"]["requestBody"]["content"]["multipart/form-data"];
export type OnDuplicate = NonNullable<UploadForm["on_duplicate"]>;

export type HealthReport = Schemas["HealthReport"];
