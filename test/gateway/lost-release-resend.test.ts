// The gateway's half of a release lost with its broker (the whole path runs
// in release-lost.test.ts): the run is sent once more under a new grant, never
// a third time, and only for the sandbox's "lost" answer.
import * as grpc from "@grpc/grpc-js";
import { expect, it } from "vitest";
import { INTERRUPTED_MESSAGE, RELEASE_LOST_MESSAGE } from "../../common/script-errors.js";
import { sandboxFailureOf } from "../../gateway/sandbox/calls.js";
import { underScriptGrant } from "../../gateway/sandbox/lost-release.js";

const failure = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });

function sender(answers: Array<Error | string>) {
  const grants: Array<string | undefined> = [];
  let minted = 0;
  return {
    grants,
    mint: async () => `grant-${++minted}`,
    send: async (grant: string | undefined) => {
      grants.push(grant);
      const a = answers.shift();
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

it("sends a run whose release was lost once more, under a new grant", async () => {
  const s = sender([failure(grpc.status.UNAVAILABLE, RELEASE_LOST_MESSAGE), "ran"]);
  expect(await underScriptGrant(s.mint, s.send)).toBe("ran");
  expect(s.grants).toEqual(["grant-1", "grant-2"]);
});

it("gives up after the second loss, with the broker named as what is unavailable", async () => {
  const s = sender([failure(grpc.status.UNAVAILABLE, RELEASE_LOST_MESSAGE), failure(grpc.status.UNAVAILABLE, RELEASE_LOST_MESSAGE), "never"]);
  const err = await underScriptGrant(s.mint, s.send).catch((e: unknown) => e);
  expect(s.grants).toEqual(["grant-1", "grant-2"]);
  expect(sandboxFailureOf(err, "script")).toEqual({
    kind: "unavailable",
    message: "the secrets for this script could not be released: the secret broker is unavailable",
  });
});

it("sends any other failure on as it is, once", async () => {
  for (const err of [
    failure(grpc.status.UNAVAILABLE, INTERRUPTED_MESSAGE),
    failure(grpc.status.UNAVAILABLE, "secrets are unavailable: the secret broker did not answer"),
    failure(grpc.status.PERMISSION_DENIED, "grant refused: reused"),
  ]) {
    const s = sender([err, "never"]);
    expect(await underScriptGrant(s.mint, s.send).catch((e: unknown) => e)).toBe(err);
    expect(s.grants).toEqual(["grant-1"]);
  }
});
