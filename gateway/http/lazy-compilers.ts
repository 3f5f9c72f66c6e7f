import ValidatorSelector from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import type { FastifyServerOptions } from "fastify";

// Fastify compiles every route's validators (Ajv) and response serializers
// (fast-json-stringify) before it listens: about 1.3 s of CPU for this API,
// a third of the gateway's start-up. These factories are fastify's own, each
// compiled function built on its route's first use instead (a few
// milliseconds, once). The schemas are the same, so is what they accept.

type Compiled = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type Builder = (route: unknown) => Compiled;
type Factory = (externalSchemas: unknown, options?: unknown) => Builder;
type SchemaController = NonNullable<FastifyServerOptions["schemaController"]>;
type Factories = NonNullable<SchemaController["compilersFactory"]>;

function lazily(build: () => Compiled, validator: boolean): Compiled {
  let compiled: Compiled | undefined;
  const run: Compiled = (data, context) => {
    compiled ??= build();
    const result = context === undefined ? compiled(data) : compiled(data, context);
    // Fastify reads a failed validation's details from the function it called.
    run.errors = compiled.errors;
    return result;
  };
  // Fastify hands Ajv functions (which carry schemaEnv) the request as the
  // parent of the root value, so a root value can be replaced; keep that.
  if (validator) run.schemaEnv = true;
  return run;
}

function lazyFactory(factory: Factory, validator: boolean): Factory {
  return (externalSchemas, options) => {
    const builder = factory(externalSchemas, options);
    return (route) => lazily(() => builder(route), validator);
  };
}

/** The `schemaController` option for Fastify: its own compilers, run on first use. */
export function lazySchemaController(): SchemaController {
  return {
    compilersFactory: {
      // Fastify's factory types are narrower than these wrappers need to say; the functions are its own.
      buildValidator: lazyFactory(ValidatorSelector() as unknown as Factory, true) as unknown as Factories["buildValidator"],
      buildSerializer: lazyFactory(SerializerSelector() as unknown as Factory, false) as unknown as Factories["buildSerializer"],
    },
  };
}
