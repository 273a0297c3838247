// The page's script (see page.html).  ?api=<origin of the API>.
"use strict";

(function () {
  var API = new URLSearchParams(location.search).get("api");
  var steps = [];

  document.getElementById("api").textContent = API;

  function show(step) {
    var li = document.createElement("li");
    li.className = step.ok ? "ok" : "bad";
    li.textContent = step.name + ": " + step.status + " "
      + (step.body ? JSON.stringify(step.body) : step.error);
    document.getElementById("steps").appendChild(li);
  }

  // one call; a body the page cannot read (a CORS failure is a TypeError
  // from fetch, a non-JSON answer fails to parse) is recorded as such
  async function call(name, method, path, opts) {
    var init = { method: method, headers: {} };
    var step = { name: name, method: method, path: path };
    opts = opts || {};
    if (opts.token) {
      init.headers.Authorization = "Bearer " + opts.token;
    }
    if (opts.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = typeof opts.json === "string"
        ? opts.json : JSON.stringify(opts.json);
    }
    try {
      var res = await fetch(API + path, init);
      step.status = res.status;
      step.contentType = res.headers.get("Content-Type");
      step.retryAfter = res.headers.get("Retry-After");
      step.wwwAuthenticate = res.headers.get("WWW-Authenticate");
      var text = await res.text();
      step.body = JSON.parse(text);
    } catch (e) {
      step.error = e.name + ": " + e.message;
    }
    step.ok = step.body !== undefined
      && (opts.expect === undefined || step.status === opts.expect);
    steps.push(step);
    show(step);
    return step;
  }

  async function run() {
    var email = "browser-" + Date.now() + "@example.com";
    var password = "correct horse battery";
    var r, tokens;

    r = await call("register", "POST", "/auth/register", {
      json: { name: "Browser Test", email: email, password: password,
              confirmPassword: password },
      expect: 200 });
    r = await call("login", "POST", "/auth/login", {
      json: { email: email, password: password }, expect: 200 });
    tokens = r.body || {};
    await call("profile", "GET", "/auth/profile", {
      token: tokens.access_token, expect: 200 });
    r = await call("refresh", "POST", "/auth/refresh", {
      json: { refresh_token: tokens.refresh_token }, expect: 200 });
    tokens = r.body || {};
    await call("logout", "POST", "/auth/logout", {
      token: tokens.access_token,
      json: { refresh_token: tokens.refresh_token }, expect: 200 });
    await call("profile after logout", "GET", "/auth/profile", {
      token: tokens.access_token, expect: 401 });
    await call("unknown API path", "GET", "/auth/nope", { expect: 404 });

    // fifteen wrong passwords at once: nginx's limit_req (1r/s, burst 10)
    // answers some of them 429 before the module sees them
    var tries = [];
    for (var i = 1; i <= 15; i++) {
      tries.push(call("wrong password " + i, "POST", "/auth/login", {
        json: { email: email, password: "wrong password " + i } }));
    }
    tries = await Promise.all(tries);
    r = tries.filter(function (t) { return t.status === 429; })[0]
        || tries[tries.length - 1];
    r.name = "429 from limit_req";
    r.ok = r.ok && r.status === 429;

    // a body over client_max_body_size: nginx answers before the module
    await call("413 from nginx", "POST", "/auth/register", {
      json: { name: "x".repeat(20000), email: email, password: password },
      expect: 413 });

    window.fluentaiResult = { steps: steps, done: true };
  }

  run().catch(function (e) {
    window.fluentaiResult = { steps: steps, done: true,
                              error: String(e && e.stack || e) };
  });
})();
