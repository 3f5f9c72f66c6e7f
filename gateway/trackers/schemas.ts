import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { AccessSetting, AccessSettingShown } from "../grants/access.js";
import { UnixSeconds } from "../http/schemas.js";
import { TagIds, TagsShown } from "../tags/schemas.js";

// What API and page trackers have in common: a name, how many revisions to
// keep and when to run. Both kinds take these with the same limits, so a
// change here changes both.

export const NAME_MAX_CHARS = 100;
export const MAX_REVISIONS = 30;
export const SCHEDULE_MAX_CHARS = 200;
export const SCRIPT_MAX_CHARS = 64 * 1024;
/** The reference's ceiling on a tracker's timeout; the services' own limits bound a run further. */
export const TIMEOUT_MAX_MS = 300_000;
// The reference's bounds on retries.
export const RETRY_MAX_ATTEMPTS = 10;
export const RETRY_MIN_INTERVAL_MS = 60_000;
export const RETRY_MAX_INTERVAL_MS = 12 * 3600_000;

export const TrackerName = Type.String({ minLength: 1, maxLength: NAME_MAX_CHARS, description: "Unique per user, case-insensitively" });

const Millis = (description: string) => Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description });
const Attempts = Type.Integer({ minimum: 1, maximum: RETRY_MAX_ATTEMPTS, description: `Retries after a failed scheduled run, at most ${RETRY_MAX_ATTEMPTS}` });

/**
 * The reference's retry strategies, intervals in milliseconds. Accepted, checked
 * as the reference checks them, stored and returned; this system does not
 * retry yet (a failed scheduled run waits for the next tick).
 */
export const RetryStrategy = Type.Union(
  [
    Type.Object(
      { type: Type.Literal("constant"), interval: Millis("Wait before each retry"), maxAttempts: Attempts },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal("exponential"),
        initialInterval: Millis("Wait before the first retry"),
        multiplier: Type.Integer({ minimum: 1, maximum: 1000 }),
        maxInterval: Millis("Longest wait between retries"),
        maxAttempts: Attempts,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal("linear"),
        initialInterval: Millis("Wait before the first retry"),
        increment: Millis("Added to the wait after each retry"),
        maxInterval: Millis("Longest wait between retries"),
        maxAttempts: Attempts,
      },
      { additionalProperties: false },
    ),
  ],
  { description: "Accepted, stored and returned as the reference has it; this system does not retry failed runs yet" },
);
export type RetryStrategy = Static<typeof RetryStrategy>;

export const TrackerTimeout = Type.Integer({
  minimum: 1,
  maximum: TIMEOUT_MAX_MS,
  description: "Milliseconds a run may take: each request of an API tracker, the whole extractor of a page tracker; the service's own limit applies when it is lower",
});

// Unknown fields are refused here (not dropped): a misspelt "schedule" must not
// save a tracker that never runs.
export const TrackerConfig = Type.Object(
  {
    revisions: Type.Integer({ minimum: 1, maximum: MAX_REVISIONS, description: "How many distinct extracted revisions to keep" }),
    timeout: Type.Optional(TrackerTimeout),
    job: Type.Optional(
      Type.Object(
        {
          schedule: Type.String({
            minLength: 1,
            maxLength: SCHEDULE_MAX_CHARS,
            description:
              "Cron expression in UTC: 5 fields, 6 with seconds first, or 7 with a year last (`?` allowed in the day fields), or @hourly, @daily, @weekly, @monthly; at most once a minute",
          }),
          retryStrategy: Type.Optional(RetryStrategy),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TrackerConfig = Static<typeof TrackerConfig>;

/** The config as answered: no limits, since the serializer only writes what the store kept. */
export const TrackerConfigView = Type.Object({
  revisions: Type.Integer(),
  timeout: Type.Optional(Type.Integer()),
  job: Type.Optional(Type.Object({ schedule: Type.String(), retryStrategy: Type.Optional(Type.Unknown()) })),
});

/** A user script (configurator, extractor); blank and NUL are refused by the rules. */
export const TrackerScript = (description: string) => Type.String({ minLength: 1, maxLength: SCRIPT_MAX_CHARS, description });

export const TrackerParams = Type.Object({ tracker_id: Type.String({ format: "uuid" }) });

export const Notifications = Type.Boolean({
  description: "Whether to be told of changes. Accepted, stored and returned as the reference does; this system sends no notifications",
});

/**
 * A kind's create, update and answer schemas around its own target schemas:
 * every kind takes the same name, enabled, config, notifications and secrets.
 */
export function trackerSchemas<In extends TSchema, View extends TSchema>(opts: { operation: string; target: In; targetView: View }) {
  const create = Type.Object({
    name: TrackerName,
    enabled: Type.Optional(Type.Boolean({ default: true })),
    config: TrackerConfig,
    target: opts.target,
    notifications: Type.Optional(Notifications),
    secrets: Type.Optional(AccessSetting),
    tagIds: TagIds,
  });
  /** Any subset of the fields; `config` and `target`, when present, replace the old ones whole. */
  const update = Type.Object({
    name: Type.Optional(TrackerName),
    enabled: Type.Optional(Type.Boolean()),
    config: Type.Optional(TrackerConfig),
    target: Type.Optional(opts.target),
    notifications: Type.Optional(Notifications),
    secrets: Type.Optional(AccessSetting),
    tagIds: TagIds,
  });
  const view = Type.Object(
    {
      id: Type.String({ format: "uuid" }),
      name: Type.String(),
      enabled: Type.Boolean(),
      config: TrackerConfigView,
      target: opts.targetView,
      notifications: Type.Boolean(),
      secrets: Type.Ref(AccessSettingShown),
      tags: TagsShown,
      tagIds: Type.Optional(Type.Array(Type.String(), { description: "The ids of `tags`; present when not empty, as the reference leaves out an empty tag list" })),
      createdAt: UnixSeconds,
      updatedAt: UnixSeconds,
    },
    { $id: opts.operation },
  );
  return { create, update, view };
}
