import { Type, type Static } from "@sinclair/typebox";

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
            description: "Cron expression in UTC: 5 fields, or 6 with seconds first; at most once a minute",
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
