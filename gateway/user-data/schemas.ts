import { Type, type Static, type TSchema } from "@sinclair/typebox";

// The workspace document (`.secutils.json`) and the export and import bodies,
// in both forms agents send: the reference's guide (`include` as a flat map of
// booleans, `document`, `conflict`, `confirmDeletions`) and the reference's
// own API (`include` as selections, `data`, per-item `selections`,
// `applyDeletions`).

export const DOCUMENT_VERSION = 1;
/** The reference's limit on an import document. */
export const IMPORT_MAX_BYTES = 10 * 1024 * 1024;
/** Items per collection in one document: more than any limit of this product lets a user keep. */
export const MAX_ITEMS = 1000;

/** The collections this product keeps, in the order an import writes them (tags first: the others name them). */
export const COLLECTIONS = ["tags", "scripts", "secrets", "responders", "apiTrackers", "pageTrackers"] as const;
export type Collection = (typeof COLLECTIONS)[number];
/** The reference's other collections: accepted in a document, reported as skipped. */
export const FOREIGN_COLLECTIONS = ["certificateTemplates", "privateKeys", "contentSecurityPolicies"] as const;
export type ForeignCollection = (typeof FOREIGN_COLLECTIONS)[number];

const Uuid = Type.String({ format: "uuid" });
const Ids = Type.Array(Uuid, { maxItems: MAX_ITEMS, uniqueItems: true });

// ---- export ----

const Selection = Type.Union([
  Type.Boolean(),
  Type.Object({ type: Type.Literal("all"), includeHistory: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal("selected"), ids: Ids, includeHistory: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
]);
export type Selection = Static<typeof Selection>;

const includeFields: Record<string, TSchema> = {};
for (const c of [...COLLECTIONS, ...FOREIGN_COLLECTIONS]) includeFields[c] = Type.Optional(Selection);
for (const c of ["respondersHistory", "apiTrackersHistory", "pageTrackersHistory", "settings"]) includeFields[c] = Type.Optional(Type.Boolean());

export const ExportParams = Type.Object(
  {
    include: Type.Object(includeFields, {
      additionalProperties: false,
      description:
        "Per collection: true, false, {type: all} or {type: selected, ids}; missing means false. " +
        "History: respondersHistory, or includeHistory in a selection",
    }),
    secretsPassphrase: Type.Optional(
      Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], {
        description: "Refused with 400 when secrets are included: secret values are write-only and never leave the broker",
      }),
    ),
  },
  { additionalProperties: false },
);
export interface ExportParams {
  include: Partial<Record<Collection | ForeignCollection, Selection>> &
    Partial<Record<"respondersHistory" | "apiTrackersHistory" | "pageTrackersHistory" | "settings", boolean>>;
  secretsPassphrase?: string | null;
}

// ---- the document ----

// Items are checked one by one against the schema of the route that creates
// them (import.ts), so that a document's errors name the item and the field.
const Items = Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: MAX_ITEMS });

const dataFields: Record<string, TSchema> = {};
for (const c of [...COLLECTIONS, ...FOREIGN_COLLECTIONS]) dataFields[c] = Type.Optional(Items);
dataFields.settings = Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]));

export const WorkspaceDocument = Type.Object(
  {
    version: Type.Integer({ description: `${DOCUMENT_VERSION}` }),
    exportedAt: Type.Optional(Type.Integer({ description: "Unix time in seconds" })),
    secretsEncryption: Type.Optional(Type.Unknown()),
    data: Type.Object(dataFields, { additionalProperties: true }),
  },
  { additionalProperties: true },
);
export type DocumentItem = Record<string, unknown>;
export interface WorkspaceDocument {
  version: number;
  exportedAt?: number;
  secretsEncryption?: unknown;
  data: Partial<Record<Collection | ForeignCollection, DocumentItem[]>> & { settings?: Record<string, unknown> | null };
}

// ---- import ----

export const MODES = ["merge", "apply"] as const;
export type Mode = (typeof MODES)[number];
export const RESOLUTIONS = ["rename", "overwrite", "skip"] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

const ItemSelection = Type.Object(
  {
    sourceId: Uuid,
    action: Type.Union([Type.Literal("import"), Type.Literal("skip")]),
    conflictResolution: Type.Optional(Type.Union([...RESOLUTIONS.map((r) => Type.Literal(r)), Type.Null()])),
  },
  { additionalProperties: false },
);
export interface ItemSelection {
  sourceId: string;
  action: "import" | "skip";
  conflictResolution?: Resolution | null;
}

const selectionFields: Record<string, TSchema> = { importSettings: Type.Optional(Type.Boolean()) };
for (const c of [...COLLECTIONS, ...FOREIGN_COLLECTIONS]) selectionFields[c] = Type.Optional(Type.Array(ItemSelection, { maxItems: MAX_ITEMS }));
const deletionFields: Record<string, TSchema> = {};
for (const c of [...COLLECTIONS, ...FOREIGN_COLLECTIONS]) deletionFields[c] = Type.Optional(Ids);

const importFields = {
  mode: Type.Optional(Type.Union(MODES.map((m) => Type.Literal(m)), { description: "merge (default) or apply" })),
  document: Type.Optional(WorkspaceDocument),
  data: Type.Optional(WorkspaceDocument),
  secretsPassphrase: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
};

export const ImportParams = Type.Object(
  {
    ...importFields,
    conflict: Type.Optional(
      Type.Union(
        RESOLUTIONS.map((r) => Type.Literal(r)),
        { description: "What a same-named item does (merge mode): rename, overwrite or skip (default)" },
      ),
    ),
    selections: Type.Optional(Type.Object(selectionFields, { additionalProperties: false, description: "Per item: import or skip, and its conflict resolution" })),
    confirmDeletions: Type.Optional(Type.Boolean({ description: "Apply mode: delete every item listed in toDelete" })),
    applyDeletions: Type.Optional(Type.Object(deletionFields, { additionalProperties: false, description: "Apply mode: delete only these ids of toDelete" })),
  },
  { additionalProperties: false, description: "The document as `document` (or `data`)" },
);
export interface ImportParams {
  mode?: Mode;
  document?: WorkspaceDocument;
  data?: WorkspaceDocument;
  secretsPassphrase?: string | null;
  conflict?: Resolution;
  selections?: Partial<Record<Collection | ForeignCollection, ItemSelection[]>> & { importSettings?: boolean };
  confirmDeletions?: boolean;
  applyDeletions?: Partial<Record<Collection | ForeignCollection, string[]>>;
}

export const PreviewParams = Type.Object(importFields, { additionalProperties: true });
export type PreviewParams = Pick<ImportParams, "mode" | "document" | "data" | "secretsPassphrase">;

// ---- answers ----

const Count = Type.Integer({ minimum: 0 });
const CollectionResult = Type.Object({
  imported: Count,
  updated: Count,
  skipped: Count,
  deleted: Count,
  failed: Count,
  errors: Type.Array(Type.String()),
});
export interface CollectionResult {
  imported: number;
  updated: number;
  skipped: number;
  deleted: number;
  failed: number;
  errors: string[];
}

const Named = Type.Object({ id: Type.String(), name: Type.String() });
export type Named = Static<typeof Named>;
const byCollection = (schema: TSchema, optional: boolean) => {
  const fields: Record<string, TSchema> = {};
  for (const c of [...COLLECTIONS, ...FOREIGN_COLLECTIONS]) fields[c] = optional ? Type.Optional(schema) : schema;
  return fields;
};
const ToDelete = Type.Object(byCollection(Type.Array(Named), true), {
  description: "Apply mode: items the document leaves out of a collection it carries; deleted only when confirmed",
});
export type ToDelete = Partial<Record<Collection, Named[]>>;

export const ImportResult = Type.Object({
  results: Type.Object({ ...byCollection(CollectionResult, false), settings: CollectionResult }),
  warnings: Type.Array(Type.String()),
  toDelete: Type.Optional(ToDelete),
});
export interface ImportResult {
  results: Record<Collection | ForeignCollection | "settings", CollectionResult>;
  warnings: string[];
  toDelete?: ToDelete;
}

const Conflict = Type.Object({ sourceId: Type.String(), name: Type.String(), existingId: Type.String(), renameAllowed: Type.Optional(Type.Boolean()) });
export type Conflict = Static<typeof Conflict>;
export const PreviewResult = Type.Object({
  valid: Type.Boolean(),
  version: Type.Integer(),
  summary: Type.Object({
    ...byCollection(Type.Object({ total: Count, conflicts: Type.Array(Conflict) }), false),
    settings: Type.Object({ included: Type.Boolean(), hasExisting: Type.Boolean() }),
  }),
  warnings: Type.Array(Type.String()),
  toDelete: Type.Optional(ToDelete),
});
export interface PreviewResult {
  valid: boolean;
  version: number;
  summary: Record<Collection | ForeignCollection, { total: number; conflicts: Conflict[] }> & { settings: { included: boolean; hasExisting: boolean } };
  warnings: string[];
  toDelete?: ToDelete;
}

/** The export's answer: the document itself. */
export const ExportedDocument = Type.Object(
  { version: Type.Integer(), exportedAt: Type.Integer(), data: Type.Object({}, { additionalProperties: true }) },
  { additionalProperties: true },
);
