import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A small web site for page trackers to log in to, on 127.0.0.1:
 * - `/login`: a form (user, password); a right password sets a session
 *   cookie and redirects to `/account`, a wrong one answers 401 "wrong password";
 * - `/account`: "Welcome back, <user>" behind the session, else a redirect to /login;
 * - `/news`: a page whose `#headline` is `site.headline`;
 * - `/form`: inputs, a checkbox, a select, a list, a link to /news, a button that shows `#later`;
 * - `/set-cookie` and `/cookies`: sets a cookie / shows the cookies it was sent;
 * - `/hang`: never answers; `/redirect?to=<url>`: a 302 to anywhere;
 * - `/gate`: answers (title "Gate") once `openGate()` is called;
 * - `/hog?mb=<n>&frame=<url>`: a page whose script holds n MiB in a filled
 *   Uint8Array (then shows `#held`), with an iframe of `frame` when given.
 */
export async function startTestSite(): Promise<TestSite> {
  const sessions = new Set<string>();
  const site: TestSite = {
    port: 0,
    password: "",
    headline: "first headline",
    logins: [],
    url: (p: string) => `http://127.0.0.1:${site.port}${p}`,
    requested: (path: string) => new Promise<void>((resolve) => waiting.push({ path, resolve })),
    openGate: () => {
      gateOpen = true;
      for (const res of gated.splice(0)) page(res, 200, "Gate", "<p>open</p>");
    },
    close: () => undefined,
  };
  const held: http.ServerResponse[] = [];
  const gated: http.ServerResponse[] = [];
  let gateOpen = false;
  const waiting: { path: string; resolve: () => void }[] = [];
  const page = (res: http.ServerResponse, status: number, title: string, body: string, headers: http.OutgoingHttpHeaders = {}) =>
    res.writeHead(status, { "content-type": "text/html; charset=utf-8", ...headers }).end(`<!doctype html><title>${title}</title><body>${body}</body>`);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://site");
      for (const w of waiting.filter((w) => w.path === url.pathname)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
      const cookies = Object.fromEntries((req.headers.cookie ?? "").split(/;\s*/).filter(Boolean).map((c) => c.split("=") as [string, string]));
      switch (url.pathname) {
        case "/login": {
          if (req.method !== "POST") {
            return page(
              res,
              200,
              "Log in",
              `<form method="post" action="/login"><input id="user" name="user"><input id="password" name="password" type="password"><button id="go" type="submit">Log in</button></form>`,
            );
          }
          const form = new URLSearchParams(Buffer.concat(chunks).toString());
          const ok = site.password !== "" && form.get("password") === site.password;
          site.logins.push({ user: form.get("user") ?? "", ok });
          if (!ok) return page(res, 401, "Log in", `<p id="error">wrong password</p>`);
          const session = crypto.randomBytes(16).toString("hex");
          sessions.add(`${session}:${form.get("user") ?? ""}`);
          return res.writeHead(302, { location: "/account", "set-cookie": `session=${session}:${form.get("user") ?? ""}; Path=/; HttpOnly` }).end();
        }
        case "/account": {
          const session = decodeURIComponent(cookies.session ?? "");
          if (!sessions.has(session)) return res.writeHead(302, { location: "/login" }).end();
          return page(res, 200, "Account", `<p id="welcome">Welcome back, ${session.split(":")[1]}</p>`);
        }
        case "/form":
          return page(
            res,
            200,
            "Form",
            `<input id="name"><input id="agree" type="checkbox"><select id="color"><option>red</option><option>blue</option></select>
             <ul><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
             <a id="link" href="/news" data-kind="internal">News</a>
             <button id="show" onclick="document.querySelector('#later').hidden = false">Show</button>
             <p id="later" hidden>shown after a click</p>
             <p id="keys"></p>
             <script>
               document.querySelector("#name").addEventListener("keydown", (e) => { document.querySelector("#keys").textContent += e.key + ";"; });
             </script>`,
          );
        case "/news":
          return page(res, 200, "News", `<h1 id="headline">${site.headline}</h1>`);
        case "/set-cookie":
          return page(res, 200, "Cookie", "<p>set</p>", { "set-cookie": "visited=yes; Path=/" });
        case "/cookies":
          return page(res, 200, "Cookies", `<p id="cookies">${req.headers.cookie ?? ""}</p>`);
        case "/redirect":
          return res.writeHead(302, { location: url.searchParams.get("to") ?? "/" }).end();
        case "/hang":
          held.push(res);
          return;
        case "/gate":
          if (gateOpen) return page(res, 200, "Gate", "<p>open</p>");
          gated.push(res);
          return;
        case "/hog": {
          const mb = Number(url.searchParams.get("mb") ?? "0");
          const frame = url.searchParams.get("frame");
          return page(
            res,
            200,
            "Hog",
            `${frame ? `<iframe src="${encodeURI(frame)}"></iframe>` : ""}
             <script>globalThis.hog = new Uint8Array(${mb} * 1024 * 1024).fill(1); document.body.insertAdjacentHTML("beforeend", '<p id="held">held</p>');</script>`,
          );
        }
        default:
          return page(res, 404, "Not found", "<p>not found</p>");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  site.port = (server.address() as AddressInfo).port;
  site.close = () => {
    for (const res of [...held.splice(0), ...gated.splice(0)]) res.destroy();
    server.closeAllConnections();
    server.close();
  };
  return site;
}

export interface TestSite {
  port: number;
  /** The password /login accepts; empty accepts none. */
  password: string;
  headline: string;
  logins: { user: string; ok: boolean }[];
  url(path: string): string;
  /** Settles when the site next gets a request for this path. */
  requested(path: string): Promise<void>;
  /** Answers the requests held at `/gate`, and every later one at once. */
  openGate(): void;
  close(): void;
}
