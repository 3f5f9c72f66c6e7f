import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { AccessSetting, AccessSettingShown } from "../grants/access.js";
import { UnixSeconds } from "../http/schemas.js";

// What API and page trackers have in common: a name, how many revisions to
// keep and when to run. Both kinds take these with the same limits, so a
// change here changes both.

export const NAME_MAX_CHARS = 100;
export const MAX_REVISIONS = 30;
export const SCHEDULE_MAX_CHARS = 200;
export const SCRIPT_MAX_CHARS = 64 * 1024;

export const TrackerName = Type.String({ minLength: 1, maxLength: NAME_MAX_CHARS, description: "Unique per user, case-insensitively" });

// Unknown fields are refused here (not dropped): a misspelt "schedule" must not
// save a tracker that never runs.
export const TrackerConfig = Type.Object(
  {
    revisions: Type.Integer({ minimum: 1, maximum: MAX_REVISIONS, description: "How many distinct extracted revisions to keep" }),
    job: Type.Optional(
      Type.Object(
        {
          schedule: Type.String({
            minLength: 1,
            maxLength: SCHEDULE_MAX_CHARS,
            description:
              "Cron expression in UTC: 5 fields, 6 with seconds first, or 7 with a year last (`?` allowed in the day fields), or @hourly, @daily, @weekly, @monthly; at most once a minute",
          }),
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
  job: Type.Optional(Type.Object({ schedule: Type.String() })),
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
  });
  /** Any subset of the fields; `config` and `target`, when present, replace the old ones whole. */
  const update = Type.Object({
    name: Type.Optional(TrackerName),
    enabled: Type.Optional(Type.Boolean()),
    config: Type.Optional(TrackerConfig),
    target: Type.Optional(opts.target),
    notifications: Type.Optional(Notifications),
    secrets: Type.Optional(AccessSetting),
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
      createdAt: UnixSeconds,
      updatedAt: UnixSeconds,
    },
    { $id: opts.operation },
  );
  return { create, update, view };
}
