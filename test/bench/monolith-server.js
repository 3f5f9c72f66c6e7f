// The anchor of the scripted responder benchmark: the same work without our
// boundaries, in one Deno process. Per request it decrypts two AES-GCM values
// and runs the responder's script in a fresh node:vm context with them in
// context.secrets: no grant, no audit, no other process, no isolation between
// users. Run by test/bench/responders.ts with the sandbox's own Deno binary.
// Usage: deno run --allow-net=127.0.0.1 monolith-server.js <port> <script> <A> <B>
import vm from "node:vm";

const [portText, script, a, b] = Deno.args;
const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function seal(text) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  return { iv, data: new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, encoder.encode(text))) };
}
const sealed = { A: await seal(a), B: await seal(b) };
const open = async (s) => decoder.decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv: s.iv }, key, s.data));
const compiled = new vm.Script(script);

Deno.serve({ hostname: "127.0.0.1", port: Number(portText), onListen: () => console.log("monolith listening") }, async (req) => {
  const secrets = Object.create(null);
  secrets.A = await open(sealed.A);
  secrets.B = await open(sealed.B);
  const url = new URL(req.url);
  const context = { method: req.method, path: url.pathname, headers: Object.fromEntries(req.headers), body: [], secrets };
  const sandbox = vm.createContext({ context });
  const result = await compiled.runInContext(sandbox, { timeout: 1000 });
  return new Response(String(result?.body ?? ""), { status: result?.statusCode ?? 200, headers: { "content-type": "text/plain; charset=utf-8" } });
});
