// make test-browser: the API as a real browser sees it.
//
// Starts the `make run` stack (scripts/run.sh: PostgreSQL, migrations, a
// dev secret, nginx with nginx.conf.example, /docs) in its own directory,
// with the origin of a small page (page.html, served here on another port)
// as the only fluentai_cors_origins; drives Debian's chromium headless with
// puppeteer-core:
//   1. the page calls register, login, profile, refresh, logout (and a
//      profile after logout, an unknown API path) with fetch, then sends
//      fifteen logins with wrong passwords at once, of which nginx's
//      limit_req answers some 429, then a body over client_max_body_size
//      (413); every body must be the contract's JSON, read by the page;
//   2. /docs (Swagger UI): "Try it out" and "Execute" on GET /health shows
//      the JSON answer.
// Fails on any CORS message in the console, any failed request, any body
// the page could not read.  Screenshots and a log go to OUT (default
// build/browser/out).
//
// Environment: TEST_BROWSER_API_PORT, TEST_BROWSER_PAGE_PORT (default: free
// ports), CHROMIUM (default /usr/bin/chromium), TEST_BROWSER_OUT.
"use strict";

const fs = require("fs");
const http = require("http");
const net = require("net");
const os = require("os");
const path = require("path");
const { spawn } = require("child_process");
const { createRequire } = require("module");

const TOP = path.resolve(__dirname, "..", "..");
const BUILD = path.join(TOP, "build", "browser");
const OUT = process.env.TEST_BROWSER_OUT || path.join(BUILD, "out");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const puppeteer = createRequire(path.join(BUILD, "package.json"))(
  "puppeteer-core");

const results = [];
let failures = 0;
let logFile;

function log(line) {
  console.log(line);
  fs.appendFileSync(logFile, line + "\n");
}

function check(ok, name, detail) {
  results.push({ ok: !!ok, name });
  if (!ok) {
    failures++;
  }
  log((ok ? "ok " : "not ok ") + results.length + " - " + name
      + (!ok && detail ? "\n# " + String(detail).split("\n").join("\n# ")
                       : ""));
}

function freePort(want) {
  if (want) {
    return Promise.resolve(Number(want));
  }
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// the page's two files, nothing else
function servePage(port) {
  const files = {
    "/": ["page.html", "text/html; charset=utf-8"],
    "/page.js": ["page.js", "text/javascript; charset=utf-8"],
  };
  const server = http.createServer((req, res) => {
    const f = files[req.url.split("?")[0]];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": f[1], "Cache-Control": "no-store" });
    res.end(fs.readFileSync(path.join(__dirname, f[0])));
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

function get(url) {
  return new Promise((resolve) => {
    http.get(url, (res) => {
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => resolve({ status: res.statusCode, body }));
    }).on("error", (e) => resolve({ status: 0, body: String(e) }));
  });
}

// scripts/run.sh run in its own directory; resolves when /health is 200
async function startServer(apiPort, origin) {
  const runDir = path.join(BUILD, "run");
  fs.rmSync(runDir, { recursive: true, force: true });
  fs.mkdirSync(runDir, { recursive: true });
  const out = fs.openSync(path.join(OUT, "server.log"), "w");
  const child = spawn(path.join(TOP, "scripts", "run.sh"), ["run"], {
    env: Object.assign({}, process.env, {
      PORT: String(apiPort),
      FLUENTAI_RUN_DIR: runDir,
      FLUENTAI_CORS_ORIGINS: origin,
    }),
    stdio: ["ignore", out, out],
    detached: true,
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const deadline = Date.now() + 120000;
  for (;;) {
    const r = await get(`http://127.0.0.1:${apiPort}/health`);
    if (r.status === 200) {
      return { child, exited };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the server did not come up (${r.status} ${r.body});`
                      + ` see ${path.join(OUT, "server.log")}`);
    }
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function stopServer(server) {
  if (!server || server.child.exitCode !== null) {
    return;
  }
  // run.sh stops nginx and its PostgreSQL on TERM
  server.child.kill("SIGTERM");
  const t = setTimeout(() => {
    try { process.kill(-server.child.pid, "SIGKILL"); } catch (e) { }
  }, 20000);
  await server.exited;
  clearTimeout(t);
}

function watch(page, name, console_) {
  page.on("console", (m) => {
    console_.push(`${name} console.${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => console_.push(`${name} pageerror: ${e}`));
  page.on("requestfailed", (r) => {
    console_.push(`${name} requestfailed: ${r.method()} ${r.url()} `
                  + `${r.failure() && r.failure().errorText}`);
  });
}

async function crossOrigin(browser, pageOrigin, api, console_) {
  const page = await browser.newPage();
  watch(page, "page", console_);
  await page.goto(`${pageOrigin}/?api=${encodeURIComponent(api)}`,
                  { waitUntil: "load" });
  await page.waitForFunction("window.fluentaiResult && "
                             + "window.fluentaiResult.done",
                             { timeout: 60000 });
  const result = await page.evaluate(() => window.fluentaiResult);
  await page.screenshot({ path: path.join(OUT, "cross-origin.png"),
                          fullPage: true });
  fs.writeFileSync(path.join(OUT, "cross-origin.json"),
                   JSON.stringify(result, null, 2));
  check(!result.error, "the page's script ran to its end", result.error);

  const by = {};
  for (const s of result.steps) {
    by[s.name] = s;
    const what = `${s.method} ${s.path} "${s.name}": ${s.status}`;
    check(s.body !== undefined, `${what}: the page read its JSON body`,
          s.error);
    if (s.body === undefined) {
      continue;
    }
    check(/^application\/json/.test(s.contentType || ""),
          `${what}: Content-Type application/json`, s.contentType);
    if (s.status >= 400) {
      check(s.body.status_code === s.status && typeof s.body.code === "string"
            && typeof s.body.error === "string"
            && typeof s.body.message === "string",
            `${what}: the contract's error shape (${s.body.code})`,
            JSON.stringify(s.body));
    }
  }
  const expect = {
    register: 200, login: 200, profile: 200, refresh: 200, logout: 200,
    "profile after logout": 401, "unknown API path": 404,
    "429 from limit_req": 429, "413 from nginx": 413,
  };
  for (const name of Object.keys(expect)) {
    const s = by[name] || {};
    check(s.status === expect[name], `${name}: ${expect[name]}`,
          `got ${s.status} ${JSON.stringify(s.body)}`);
  }
  const t = by.login && by.login.body || {};
  check(typeof t.access_token === "string" && t.user
        && t.user.email === by.register.body.user.email,
        "login: tokens and the registered user");
  check(by.profile && by.profile.body && by.profile.body.email
        === by.register.body.user.email, "profile: the user");
  check(by.logout && by.logout.body && by.logout.body.success === true,
        "logout: success");
  check((by["429 from limit_req"] || {}).body
        && by["429 from limit_req"].body.code === "rate_limited",
        "429: code rate_limited");
  check((by["429 from limit_req"] || {}).retryAfter === "1",
        "429: the page reads Retry-After: 1",
        (by["429 from limit_req"] || {}).retryAfter);
  check((by["profile after logout"] || {}).wwwAuthenticate
        === 'Bearer error="invalid_token"',
        "401: the page reads WWW-Authenticate",
        (by["profile after logout"] || {}).wwwAuthenticate);
  check((by["413 from nginx"] || {}).body
        && by["413 from nginx"].body.code === "payload_too_large",
        "413: code payload_too_large");
  await page.close();
}

async function docs(browser, api, console_) {
  const page = await browser.newPage();
  watch(page, "docs", console_);
  await page.setViewport({ width: 1280, height: 1000 });
  await page.goto(`${api}/docs#/health/health`, { waitUntil: "load" });
  const op = "#operations-health-health";
  await page.waitForSelector(`${op} .try-out__btn`, { timeout: 30000 });
  await page.click(`${op} .try-out__btn`);
  await page.waitForSelector(`${op} .execute`, { timeout: 10000 });
  await page.click(`${op} .execute`);
  const sel = `${op} .live-responses-table .response-col_description pre`;
  await page.waitForSelector(sel, { timeout: 20000 });
  const shown = await page.$eval(sel, (e) => e.textContent);
  const status = await page.$eval(
    `${op} .live-responses-table tr.response .response-col_status`,
    (e) => e.textContent.trim());
  await (await page.$(op)).screenshot({
    path: path.join(OUT, "docs-health.png") });
  let body;
  try { body = JSON.parse(shown); } catch (e) { body = undefined; }
  check(status === "200", "/docs: Try it out on GET /health: 200", status);
  check(body && body.status === "healthy" && body.database === "connected",
        "/docs: the JSON answer is shown", shown);
  await page.close();
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  logFile = path.join(OUT, "browser-test.log");
  fs.writeFileSync(logFile, "");
  const t0 = Date.now();
  const apiPort = await freePort(process.env.TEST_BROWSER_API_PORT);
  const pagePort = await freePort(process.env.TEST_BROWSER_PAGE_PORT);
  const api = `http://127.0.0.1:${apiPort}`;
  const pageOrigin = `http://127.0.0.1:${pagePort}`;
  log(`# API ${api} (make run's stack), page ${pageOrigin}, ${CHROMIUM}`);

  const pageServer = await servePage(pagePort);
  let server, browser;
  const console_ = [];
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "fluentai-chromium-"));
  try {
    server = await startServer(apiPort, pageOrigin);
    log(`# server up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"],
    });
    log(`# ${await browser.version()}`);
    await crossOrigin(browser, pageOrigin, api, console_);
    await docs(browser, api, console_);
  } catch (e) {
    check(false, "the run completed", e && e.stack || e);
  } finally {
    if (browser) {
      await browser.close().catch(() => {});
    }
    await stopServer(server);
    pageServer.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }

  fs.writeFileSync(path.join(OUT, "console.log"), console_.join("\n") + "\n");
  // every request the browser sent was understood (a body left unread on
  // a kept-alive connection would turn the next request into a 400)
  let access = "";
  try {
    access = fs.readFileSync(path.join(BUILD, "run", "access.log"), "utf8");
  } catch (e) { }
  fs.writeFileSync(path.join(OUT, "access.log"), access);
  const bad = access.split("\n").filter((l) => /" 400 /.test(l));
  check(access.length > 0 && bad.length === 0,
        "the access log has the requests and no 400", bad.join("\n"));
  const cors = console_.filter((l) => /CORS|Access-Control|cross-origin/i
                                      .test(l));
  check(cors.length === 0, "no CORS message in the console",
        cors.join("\n"));
  const failed = console_.filter((l) => / requestfailed: /.test(l));
  check(failed.length === 0, "no failed request", failed.join("\n"));
  const errors = console_.filter((l) => / pageerror: /.test(l));
  check(errors.length === 0, "no uncaught error in a page", errors.join("\n"));

  log(`1..${results.length}`);
  log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s; output in ${OUT}`);
  log(`${results.length - failures} passed, ${failures} failed`);
  process.exitCode = failures ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
