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
 * - `/hog?mb=<n>&frame=<url>&delayMs=<ms>`: a page whose script holds n MiB
 *   in a filled Uint8Array (then shows `#held`), with an iframe of `frame`
 *   when given, answered after `delayMs` when given;
 * - `/shop`: what a recorded script meets (labels, placeholders, roles, test
 *   ids, a search that calls `/api/search` from the page, rows with buttons,
 *   and an iframe `/shop-frame` with a labelled input and a Pay button);
 * - `/api/search?q=`: `{"items": [q + " 1", q + " 2"]}`; `/api/echo`: the
 *   request's method, body and content type as JSON; `/api/state`:
 *   `{"status": site.headline, "other": ...}` (what the skill's extractor reads);
 * - `/hn`: a front page shaped like Hacker News, whose first
 *   `.athing .titleline a` is `site.headline` linking to /item?id=1.
 * Every request's headers are kept in `site.headers`, by path (the latest).
 */
export async function startTestSite(): Promise<TestSite> {
  const sessions = new Set<string>();
  const site: TestSite = {
    port: 0,
    password: "",
    headline: "first headline",
    logins: [],
    headers: {},
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
      site.headers[url.pathname] = req.headers;
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
          const answer = () =>
            page(
              res,
              200,
              "Hog",
              `${frame ? `<iframe src="${encodeURI(frame)}"></iframe>` : ""}
               <script>globalThis.hog = new Uint8Array(${mb} * 1024 * 1024).fill(1); document.body.insertAdjacentHTML("beforeend", '<p id="held">held</p>');</script>`,
            );
          const delayMs = Number(url.searchParams.get("delayMs") ?? "0");
          if (delayMs > 0) return void setTimeout(answer, delayMs);
          return answer();
        }
        case "/shop":
          return page(
            res,
            200,
            "Shop",
            `<h1>Shop</h1>
             <nav><a href="/news">News</a> <a href="/shop?page=2" title="Next page">More</a></nav>
             <label for="q">Search</label><input id="q" placeholder="Find a product">
             <button type="button" id="search">Search</button>
             <ul id="results"></ul>
             <table>
               <tr><td>Apple</td><td><button type="button" class="buy">Buy</button></td></tr>
               <tr><td>Pear</td><td><button type="button" class="buy">Buy</button></td></tr>
             </table>
             <img alt="Company logo" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
             <p>Cart: <span data-testid="cart-count">0</span> <span id="bought"></span></p>
             <iframe src="/shop-frame" title="Payment"></iframe>
             <script>
               const search = () => fetch("/api/search?q=" + encodeURIComponent(document.querySelector("#q").value))
                 .then((r) => r.json())
                 .then((d) => { document.querySelector("#results").innerHTML = d.items.map((i) => "<li>" + i + "</li>").join(""); });
               document.querySelector("#search").addEventListener("click", search);
               document.querySelector("#q").addEventListener("keydown", (e) => { if (e.key === "Enter") search(); });
               for (const b of document.querySelectorAll(".buy")) b.addEventListener("click", () => {
                 const count = document.querySelector("[data-testid=cart-count]");
                 count.textContent = String(Number(count.textContent) + 1);
                 document.querySelector("#bought").textContent += b.closest("tr").cells[0].textContent + ";";
               });
             </script>`,
          );
        case "/shop-frame":
          return page(
            res,
            200,
            "Payment",
            `<label>Card number <input name="card"></label>
             <button type="button" onclick="document.querySelector('#paid').textContent = 'paid with ' + document.querySelector('input').value">Pay</button>
             <p id="paid"></p>`,
          );
        case "/api/search":
          return res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ items: [`${url.searchParams.get("q")} 1`, `${url.searchParams.get("q")} 2`] }));
        case "/api/state":
          return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: site.headline, other: "dropped by the extractor" }));
        case "/hn":
          return page(
            res,
            200,
            "Hacker News",
            `<table><tr class="athing"><td><span class="titleline"><a href="/item?id=1">${site.headline}</a></span></td></tr>` +
              `<tr class="athing"><td><span class="titleline"><a href="/item?id=2">second story</a></span></td></tr></table>`,
          );
        case "/scripts/headline.js":
          // An extractor kept as a URL (the page guide's "external content extractor script").
          return res
            .writeHead(200, { "content-type": "text/javascript" })
            .end(`export async function execute(page) {\n  await page.goto(${JSON.stringify(`http://127.0.0.1:${site.port}/news`)});\n  return { remote: await page.textContent("#headline") };\n}`);
        case "/api/echo":
          return res
            .writeHead(200, { "content-type": "application/json", "x-echo": "yes" })
            .end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString(), contentType: req.headers["content-type"] ?? null }));
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
  /** The headers of the latest request to each path. */
  headers: Record<string, http.IncomingHttpHeaders>;
  url(path: string): string;
  /** Settles when the site next gets a request for this path. */
  requested(path: string): Promise<void>;
  /** Answers the requests held at `/gate`, and every later one at once. */
  openGate(): void;
  close(): void;
}
