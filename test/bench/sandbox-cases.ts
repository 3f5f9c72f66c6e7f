import { ScriptKind, type ExecuteRequest, type ExecuteResponse } from "../../proto/gen/secutils/sandbox/v1/sandbox.js";

/** A responder script, its context and the body it must answer with. */
export interface ScriptCase {
  label: string;
  script: string;
  contextJson: string;
  body: string;
}

const context = (body: number[]) => JSON.stringify({ method: "POST", headers: { "content-type": "application/json" }, path: "/hook", query: {}, body });

const trivial: ScriptCase = { label: "trivial script", script: `({ body: "ok" })`, contextJson: context([]), body: "ok" };

// What a webhook responder does: parse the JSON it was sent, pick and reshape
// some of it, answer with JSON.
const items = Array.from({ length: 16 }, (_, i) => ({
  id: i + 1,
  name: `item-${i + 1}`,
  price: 1.25 * (i + 1),
  qty: (i % 3) + 1,
  active: i % 4 !== 3,
  tags: ["bench", `t${i % 5}`],
}));
const answer = items.filter((x) => x.active).map((x) => ({ id: x.id, name: x.name.toUpperCase(), total: x.price * x.qty }));
const responder: ScriptCase = {
  label: "responder (16 JSON items)",
  script: `(() => {
  const items = JSON.parse(new TextDecoder().decode(new Uint8Array(context.body)));
  const result = items.filter((x) => x.active).map((x) => ({ id: x.id, name: x.name.toUpperCase(), total: x.price * x.qty }));
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(result) };
})()`,
  contextJson: context([...Buffer.from(JSON.stringify(items))]),
  body: JSON.stringify(answer),
};

export const CASES = [trivial, responder] as const;
export const TRIVIAL = trivial;

/** An Execute request without a grant (no broker involved) and with the service's default limits. */
export function request(userId: string, c: ScriptCase): ExecuteRequest {
  return { userId, kind: ScriptKind.SCRIPT_KIND_RESPONDER, script: c.script, contextJson: c.contextJson };
}

/** Throws unless the script answered with the case's body: a failing script would measure the wrong thing. */
export function expectBody(res: ExecuteResponse, c: ScriptCase): void {
  if (res.error) throw new Error(`${c.label} failed: ${res.error.kind} ${res.error.message}`);
  const body = res.responder?.body?.toString("utf8");
  if (body !== c.body) throw new Error(`${c.label} answered ${JSON.stringify(body)}, expected ${JSON.stringify(c.body)}`);
}
