import { afterAll, beforeAll, expect, it } from "vitest";
import { createSecret, newUser } from "../helpers/http.js";
import { Stack } from "../helpers/stack.js";
import { createResponder, hitUrl } from "../helpers/webhooks.js";

// A broker restart (a deploy, a key-ring change by restart) while responders
// that need it are being hit: the gateway and the sandbox wait for the broker
// to come back (within their 5 s deadlines) instead of failing, so no request
// fails and every answer carries the right value.

let stack: Stack;

beforeAll(async () => {
  // Without the render cache every templated hit needs the broker.
  stack = await Stack.start({ gatewayEnv: { TEMPLATE_CACHE_MAX_BYTES: "0" } });
});
afterAll(() => stack?.stop());

it("costs no failed request to scripted and templated responders", async () => {
  const user = await newUser(stack);
  const id = await createSecret(stack, user, "TOKEN", "tok-restart");
  const scripted = await createResponder(stack, user, { location: { pathType: "=", path: "/s" }, settings: { script: "({ body: context.secrets.TOKEN })", secrets: { selected: [id] } } });
  const templated = await createResponder(stack, user, { location: { pathType: "=", path: "/t" }, settings: { body: "${secrets.TOKEN}", secrets: { selected: [id] } } });

  // 0 before the restart, 1 while it runs, 2 after.
  let phase = 0;
  let running = true;
  let duringRestart = 0;
  const answers: string[] = [];
  const loops = Array.from({ length: 4 }, async (_, i) => {
    for (let n = 0; running; n++) {
      const startedIn = phase;
      const a = await hitUrl(stack, (n + i) % 2 === 0 ? scripted.url : templated.url);
      // Started during the restart, or still in flight when it began (such a
      // request may wait out the whole restart, so none starts during it).
      if (startedIn === 1 || (startedIn === 0 && phase > 0)) duringRestart++;
      answers.push(`${a.status} ${a.text}`);
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  phase = 1;
  await stack.restartBroker();
  phase = 2;
  await new Promise((r) => setTimeout(r, 300));
  running = false;
  await Promise.all(loops);

  expect(duringRestart).toBeGreaterThan(0);
  expect(answers.filter((a) => a !== "200 tok-restart")).toEqual([]);
});
