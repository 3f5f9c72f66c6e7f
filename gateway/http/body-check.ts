import ValidatorSelector from "@fastify/ajv-compiler";
import type { TSchema } from "@sinclair/typebox";

// A request body that arrives inside another one (an import document's items)
// is checked against the schema of the route that would have taken it alone,
// by the same validator and with the same options as the gateway's routes
// (app.ts): what one route accepts, the other does, defaults filled in alike.

type Validate = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string; params?: { additionalProperty?: string } }[] | null;
};
type Build = (route: { schema: TSchema; method: string; url: string; httpPart: string }) => Validate;
type Factory = (externalSchemas: Record<string, unknown>, options: { customOptions: Record<string, unknown> }) => Build;

/** Undefined when the value is accepted (defaults filled in, as a route would); otherwise why not. */
export type BodyCheck = (value: unknown) => string | undefined;

/**
 * A checker per schema, from one validator instance. `external`: the app's
 * shared schemas (`app.getSchemas()`), which the bodies' `$ref`s name.
 */
export function bodyChecks(external: Record<string, unknown>): (schema: TSchema) => BodyCheck {
  const build = (ValidatorSelector() as unknown as Factory)(external, { customOptions: { coerceTypes: false, removeAdditional: false } });
  return (schema) => {
    // Compiled on first use, as the routes' own validators are (lazy-compilers.ts).
    let validate: Validate | undefined;
    return (value) => {
      validate ??= build({ schema, method: "POST", url: "", httpPart: "body" });
      if (validate(value)) return undefined;
      const first = validate.errors?.[0];
      if (!first) return "is not valid";
      const extra = first.params?.additionalProperty;
      return `${first.instancePath || "/"} ${extra === undefined ? (first.message ?? "is not valid") : `must not have the field '${extra}'`}`;
    };
  };
}
