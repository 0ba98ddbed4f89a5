// Trailmark audit log viewer. Every value from the log is put into the
// page as text (createTextNode): never innerHTML, never a link or an
// attribute built from a record (an aria-label only with its hidden
// characters escaped). Characters that steer how text is shown instead of
// showing themselves are shown as visible escapes (see visible).
"use strict";

(function () {
  const body = document.body;
  const apiBase = body.dataset.api;
  const viewerBase = body.dataset.base;
  const formats = (body.dataset.formats || "").split(" ").filter(Boolean);
  const contact = body.dataset.contact || "whoever sent you this link";
  // logKey is the log's public key (viewer.Options.LogKey): with it,
  // each row gets a proof badge, checked in this browser (proof.js).
  const logKey = body.dataset.logKey || "";
  const proofs = logKey && window.TrailmarkProof ? window.TrailmarkProof : null;
  const pageSize = 50;
  // The most characters of one value shown in a row of the list, in the
  // detail, and in the detail's heading; the rest is counted in bytes.
  const rowLimit = 240;
  const detailLimit = 1000;
  const titleLimit = 60;

  let token = "";
  let cursor = "";
  let query = new URLSearchParams();
  let shown = 0;
  let lastOpener = null;
  let refused = false; // the API refused the token (401)

  const $ = (id) => document.getElementById(id);

  // hidden matches the characters that change how the text around them is
  // shown rather than showing themselves, the ones the exports escape
  // (internal/safetext): C0 controls, DEL, C1 controls, the bidi marks
  // (U+061C, U+200E, U+200F), the line and paragraph separators, the bidi
  // embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
  // Shown raw, U+202E makes "\u202Emoc.elpmaxe@ecila" read as
  // alice@example.com.
  const hidden = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

  // escapeChar writes one hidden character as its code point: "\u202E".
  function escapeChar(c) {
    return "\\u" + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  }

  // escaped is s with every hidden character escaped, for attributes.
  function escaped(s) {
    return s.replace(hidden, escapeChar);
  }

  // visible is s as nodes: its text, with each hidden character replaced by
  // its escape in a span.esc, styled apart from the text around it.
  function visible(s) {
    const f = document.createDocumentFragment();
    let last = 0;
    for (const m of s.matchAll(hidden)) {
      if (m.index > last) f.append(document.createTextNode(s.slice(last, m.index)));
      const esc = document.createElement("span");
      esc.className = "esc";
      esc.title = "hidden control character";
      esc.textContent = escapeChar(m[0]);
      f.append(esc);
      last = m.index + m[0].length;
    }
    if (last < s.length) f.append(document.createTextNode(s.slice(last)));
    return f;
  }

  // setText replaces the contents of node with visible(s).
  function setText(node, s) {
    node.replaceChildren(visible(s));
  }

  // el makes an element with a class and text or child nodes; text
  // goes through visible.
  function el(tag, className, ...children) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(typeof c === "string" ? visible(c) : c);
    }
    return e;
  }

  // cut is where to cut s to at most limit characters, not inside a
  // surrogate pair: s.length if it is short enough.
  function cut(s, limit) {
    if (s.length <= limit) return s.length;
    const c = s.charCodeAt(limit - 1);
    return c >= 0xd800 && c <= 0xdbff ? limit - 1 : limit;
  }

  // moreBytes notes the part of a value not shown: "… (99,000 more bytes)".
  function moreBytes(rest) {
    const n = new TextEncoder().encode(rest).length;
    return el("span", "more-bytes", "… (" + n.toLocaleString("en-US") + (n === 1 ? " more byte)" : " more bytes)"));
  }

  // shortText is visible(s) cut to at most limit characters, with a note
  // of how many bytes are left out.
  function shortText(s, limit) {
    const i = cut(s, limit);
    const f = visible(s.slice(0, i));
    if (i < s.length) f.append(moreBytes(s.slice(i)));
    return f;
  }

  // download saves data (a string or a Blob) as a file.
  function download(data, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(typeof data === "string" ? new Blob([data], { type: "text/plain;charset=utf-8" }) : data);
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // longText is a value of the detail: visible(s) when short; else its
  // first detailLimit characters, how many bytes are left, and buttons to
  // show the whole value or download it.
  function longText(s) {
    const span = el("span", "value");
    if (cut(s, detailLimit) === s.length) {
      span.append(visible(s));
      return span;
    }
    span.append(shortText(s, detailLimit));
    const all = el("button", "small show-all", "Show all");
    all.type = "button";
    all.addEventListener("click", () => {
      span.replaceChildren(visible(s));
      all.remove();
    });
    const save = el("button", "small download", "Download");
    save.type = "button";
    save.addEventListener("click", () => download(s, "audit-value.txt"));
    return el("span", "long", span, " ", all, " ", save);
  }

  // tokenUsable says whether t can be sent as a bearer token: printable
  // ASCII, as an HTTP header carries it.
  function tokenUsable(t) {
    return t.length > 0 && t.length <= 16384 && /^[\x21-\x7e]+$/.test(t);
  }

  // takeToken removes the fragment from the address bar and the history,
  // whatever it holds, and takes the token from it (#token=…). It says
  // false when the fragment holds no usable token.
  function takeToken() {
    const h = window.location.hash;
    if (h === "" || h === "#") return true;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    if (!h.startsWith("#token=")) return false;
    let t;
    try {
      t = decodeURIComponent(h.slice("#token=".length)).trim();
    } catch (e) {
      return false; // not percent-encoded UTF-8
    }
    if (!tokenUsable(t)) return false;
    token = t;
    return true;
  }

  // damaged is what the page says of a link whose token cannot be used.
  const damaged = "This viewer link is damaged (it may have been cut when it was copied). Ask " + contact + " for a new one.";

  function headers() {
    return token ? { Authorization: "Bearer " + token } : {};
  }

  function showMessage(text) {
    const m = $("message");
    setText(m, text);
    m.hidden = text === "";
  }

  // problemText says why a response failed, from its problem document.
  async function problemText(resp) {
    let detail = "";
    try {
      const p = await resp.json();
      if (p && typeof p.detail === "string") detail = p.detail;
    } catch (e) {
      // not a problem document
    }
    if (resp.status === 401) {
      if (!token) return "This page needs a viewer link. Ask " + contact + " for one, or paste an access token below.";
      return "Your viewer link has expired or is not valid. Ask " + contact + " for a new one. (401" + (detail ? ": " + detail : "") + ")";
    }
    if (resp.status === 403) return "Not allowed (403): " + detail;
    return "The audit log could not be read (" + resp.status + "): " + detail;
  }

  function fmtTime(s) {
    if (typeof s !== "string") return "";
    return s.replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  // isNum says whether v is a number of an exact record (proof.js keeps
  // each as its text, so that the page shows the digits it checked).
  function isNum(v) {
    return proofs !== null && v instanceof proofs.Num;
  }

  function valueText(v) {
    if (typeof v === "string") return v;
    if (v === undefined) return "";
    if (isNum(v)) return v.source;
    if (proofs && typeof JSON.rawJSON === "function") {
      return JSON.stringify(v, (k, x) => (isNum(x) ? JSON.rawJSON(x.source) : x));
    }
    return JSON.stringify(v, (k, x) => (isNum(x) ? Number(x.source) : x));
  }

  // readFilters turns the form into the API's query parameters.
  function readFilters() {
    const q = new URLSearchParams();
    for (const [name, id] of [["user_id", "f-user"], ["action", "f-action"], ["resource_type", "f-rtype"], ["resource_id", "f-rid"], ["status", "f-status"]]) {
      const v = $(id).value.trim();
      if (v) q.set(name, v);
    }
    for (const [name, id] of [["since", "f-start"], ["until", "f-end"]]) {
      const v = $(id).value;
      if (v) {
        const d = new Date(v);
        if (!isNaN(d)) q.set(name, d.toISOString().replace(/\.000Z$/, "Z"));
      }
    }
    return q;
  }

  // The proof badges. Each record shown is checked once, when its row
  // comes into view or its detail opens, with at most maxChecks proofs
  // fetched at a time. checks holds the promise of each record's result
  // ({state, reason}), by the record the page shows.
  const maxChecks = 4;
  const checks = new WeakMap();
  const waiting = [];
  let checking = 0;
  let keyPromise = null;

  const badgeText = {
    pending: "Not checked yet",
    checking: "Checking…",
    verified: "Verified",
    failed: "Not verified",
    unsealed: "Not sealed yet",
    cannot: "Cannot check",
  };

  function logKeyParsed() {
    if (!keyPromise) keyPromise = proofs.parseKey(logKey);
    return keyPromise;
  }

  // checkRecord returns the promise of exact's result; exact is the
  // record as the page shows it, with its numbers' exact text.
  function checkRecord(exact) {
    let p = checks.get(exact);
    if (!p) {
      p = new Promise((resolve) => waiting.push({ exact, resolve }));
      checks.set(exact, p);
      nextCheck();
    }
    return p;
  }

  function nextCheck() {
    while (checking < maxChecks && waiting.length > 0) {
      const { exact, resolve } = waiting.shift();
      checking++;
      runCheck(exact).then(resolve, (e) => resolve({ state: "cannot", reason: "the check failed in this browser (" + (e && e.message ? e.message : String(e)) + ")" }))
        .finally(() => {
          checking--;
          nextCheck();
        });
    }
  }

  async function runCheck(exact) {
    if (!window.crypto || !crypto.subtle) return { state: "cannot", reason: "this page is not served over HTTPS, and the browser offers no WebCrypto here" };
    let key;
    try {
      key = await logKeyParsed();
    } catch (e) {
      return { state: "failed", reason: "the page's log key cannot be used: " + (e && e.message ? e.message : String(e)) };
    }
    let resp;
    try {
      resp = await fetch(apiBase + "/" + encodeURIComponent(String(exact.id)) + "/proof", { headers: headers(), cache: "no-store", credentials: "same-origin" });
    } catch (e) {
      return { state: "cannot", reason: "the proof could not be fetched" };
    }
    if (resp.status === 404) return { state: "unsealed", reason: "the log has not signed a checkpoint that covers it yet" };
    if (resp.status === 501) return { state: "cannot", reason: "this log keeps no Merkle tree, so it has no proofs" };
    if (!resp.ok) return { state: "cannot", reason: "the proof could not be read (" + resp.status + ")" };
    let proof;
    try {
      proof = proofs.parseExact(await resp.text());
    } catch (e) {
      return { state: "failed", reason: "the server sent no inclusion proof" };
    }
    return proofs.verify(exact, proof, key);
  }

  // showCheck puts exact's result in node (a span.proof) once known.
  function showCheck(node, exact) {
    setBadge(node, { state: "checking", reason: "" });
    checkRecord(exact).then((r) => setBadge(node, r));
  }

  function setBadge(node, r) {
    node.dataset.proof = r.state;
    node.className = "proof proof-" + r.state;
    node.replaceChildren(el("span", "proof-state", badgeText[r.state] || r.state));
    if (r.reason && r.state !== "checking") {
      node.append(el("span", "proof-reason", r.reason));
      node.title = badgeText[r.state] + ": " + r.reason;
    }
  }

  // The rows whose badges wait for them to come into view.
  const seen = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      seen.unobserve(e.target);
      const exact = rowExact.get(e.target);
      if (exact && e.target.isConnected) showCheck(e.target, exact);
    }
  }) : null;
  const rowExact = new WeakMap();

  // exactPage is the items of a page of the list as parseExact reads
  // them; none for a page it cannot read (nested too deeply for the
  // browser): their badges say they cannot be checked.
  function exactPage(text) {
    try {
      const exact = proofs.parseExact(text);
      return exact && Array.isArray(exact.items) ? exact.items : [];
    } catch (e) {
      return [];
    }
  }

  function proofCell(exact) {
    if (!exact || typeof exact !== "object") {
      const span = el("span", "proof");
      setBadge(span, { state: "cannot", reason: "this browser could not read the record exactly" });
      return el("td", "c-proof", el("span", "lbl", "Proof "), span);
    }
    const span = el("span", "proof proof-pending");
    span.dataset.proof = "pending";
    span.append(el("span", "proof-state", badgeText.pending));
    rowExact.set(span, exact);
    if (seen) seen.observe(span);
    else showCheck(span, exact);
    return el("td", "c-proof", el("span", "lbl", "Proof "), span);
  }

  function row(rec, exact) {
    const tr = el("tr", "status-" + (["success", "failure", "error"].includes(rec.status) ? rec.status : "other"));
    tr.dataset.id = valueText(rec.id);
    const resource = valueText(rec.resource_type) + (rec.resource_id ? " / " + valueText(rec.resource_id) : "");
    const action = valueText(rec.action);
    const open = el("button", "open", "View");
    open.type = "button";
    open.setAttribute("aria-label", escaped("View event " + action.slice(0, cut(action, titleLimit)) + " at " + fmtTime(rec.timestamp)));
    open.addEventListener("click", () => { lastOpener = open; showDetail(rec, exact); });
    tr.append(
      el("td", "c-time", el("span", "lbl", "Time "), fmtTime(rec.timestamp)),
      el("td", "c-actor", el("span", "lbl", "Actor "), shortText(valueText(rec.user_id), rowLimit),
        rec.user_email ? el("span", "email", shortText(valueText(rec.user_email), rowLimit)) : null),
      el("td", "c-action", el("span", "lbl", "Action "), shortText(action, rowLimit)),
      el("td", "c-resource", el("span", "lbl", "Resource "), shortText(resource, rowLimit)),
      el("td", "c-status", el("span", "lbl", "Status "), el("span", "badge", shortText(valueText(rec.status), rowLimit))),
      proofs ? proofCell(exact) : null,
      el("td", "c-open", open));
    return tr;
  }

  // load shows the first page of the query (reset) or the next one.
  // body[data-busy] is "1" while a page is loading. A load started later
  // supersedes one in flight (a reset, then new filters): the older one
  // stops at its next step and shows nothing.
  let generation = 0;
  async function load(reset) {
    const gen = ++generation;
    body.dataset.busy = "1";
    try {
      await loadPage(reset, () => gen !== generation);
    } finally {
      if (gen === generation) body.dataset.busy = "0";
    }
  }

  async function loadPage(reset, superseded) {
    if (reset) {
      cursor = "";
      shown = 0;
      $("rows").replaceChildren();
      $("count").textContent = "";
      $("detail").hidden = true;
    }
    const q = new URLSearchParams(query);
    q.set("limit", String(pageSize));
    if (cursor) q.set("cursor", cursor);
    $("more").disabled = true;
    let resp;
    try {
      resp = await fetch(apiBase + "?" + q.toString(), { headers: headers(), cache: "no-store", credentials: "same-origin" });
    } catch (e) {
      if (!superseded()) {
        showMessage("The audit log API could not be reached.");
        setCount(false);
      }
      return;
    }
    if (superseded()) return;
    $("more").disabled = false;
    if (!resp.ok) {
      const why = await problemText(resp);
      if (superseded()) return;
      showMessage(why);
      $("more").hidden = true;
      setCount(false);
      if (resp.status === 401) {
        refused = true;
        $("access").hidden = false;
      }
      return;
    }
    refused = false;
    showMessage("");
    let page;
    let exactItems = [];
    try {
      const text = await resp.text();
      page = JSON.parse(text);
      if (proofs) exactItems = exactPage(text);
    } catch (e) {
      if (!superseded()) showMessage("The audit log API sent a page that is not JSON.");
      return;
    }
    if (superseded()) return;
    const items = Array.isArray(page.items) ? page.items : [];
    const rows = $("rows");
    items.forEach((rec, i) => rows.append(row(rec, exactItems[i])));
    shown += items.length;
    cursor = typeof page.next_cursor === "string" ? page.next_cursor : "";
    $("more").hidden = cursor === "";
    setCount(true);
  }

  // setCount says how many events are shown: after a page was read
  // (answered), or after a request failed, when no more can be loaded.
  function setCount(answered) {
    let text = "";
    if (answered && shown === 0) text = "No events match.";
    else if (shown > 0) {
      text = shown + (shown === 1 ? " event" : " events") + " shown";
      if (answered) text += cursor ? "; more are available." : "; that is all.";
      else text += ".";
    }
    $("count").textContent = text;
  }

  // tree renders a JSON value as nested lists.
  function tree(v) {
    if (v === null || typeof v !== "object" || isNum(v)) return el("span", "leaf", longText(valueText(v)));
    const ul = el("ul", "");
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.keys(v).sort().map((k) => [k, v[k]]);
    if (entries.length === 0) return el("span", "leaf empty", Array.isArray(v) ? "[]" : "{}");
    for (const [k, x] of entries) {
      ul.append(el("li", "", el("span", "key", longText(k)), ": ", tree(x)));
    }
    return ul;
  }

  function showDetail(rec, exact) {
    const fields = $("detail-fields");
    fields.replaceChildren();
    if (proofs && exact) {
      const badge = el("span", "proof");
      showCheck(badge, exact);
      fields.append(el("dt", "", "Proof"), el("dd", "detail-proof", badge));
    }
    for (const [label, key] of [["ID", "id"], ["Time", "timestamp"], ["Recorded", "recorded_at"], ["Tenant", "tenant_id"], ["Actor", "user_id"],
      ["Email", "user_email"], ["IP address", "ip_address"], ["User agent", "user_agent"], ["Action", "action"], ["Resource type", "resource_type"],
      ["Resource id", "resource_id"], ["Status", "status"], ["Error", "error_message"], ["Request id", "request_id"], ["Session id", "session_id"],
      ["Trace id", "trace_id"], ["Span id", "span_id"]]) {
      const v = rec[key];
      if (v === undefined || v === null || v === "") continue;
      fields.append(el("dt", "", label), el("dd", "", key === "timestamp" || key === "recorded_at" ? fmtTime(v) : longText(valueText(v))));
    }
    // Details and Changes as checked: numbers with their exact digits.
    const shown = exact && typeof exact === "object" ? exact : rec;
    const details = shown.details && typeof shown.details === "object" && !isNum(shown.details) ? shown.details : null;
    $("detail-tree").replaceChildren(details ? tree(details) : "");
    $("detail-details").hidden = details === null || Object.keys(details).length === 0;
    const tb = $("detail-changes").tBodies[0];
    tb.replaceChildren();
    const changes = shown.changes && typeof shown.changes === "object" && !isNum(shown.changes) ? shown.changes : {};
    const names = Object.keys(changes).sort();
    for (const name of names) {
      const c = changes[name] || {};
      tb.append(el("tr", "", el("th", "", longText(name)), el("td", "before", longText(valueText(c.before))), el("td", "arrow", "→"),
        el("td", "after", longText(valueText(c.after)))));
    }
    $("detail-diff").hidden = names.length === 0;
    const action = valueText(rec.action);
    const i = cut(action, titleLimit);
    setText($("detail-title"), "Event " + action.slice(0, i) + (i < action.length ? "…" : ""));
    $("detail").hidden = false;
    $("detail-title").focus({ preventScroll: true });
    $("detail").scrollIntoView({ block: "start" });
  }

  async function exportAs(format, button) {
    const q = new URLSearchParams(query);
    q.set("format", format);
    button.disabled = true;
    try {
      const resp = await fetch(apiBase + "/export?" + q.toString(), { headers: headers(), cache: "no-store", credentials: "same-origin" });
      if (!resp.ok) {
        showMessage(await problemText(resp));
        return;
      }
      download(await resp.blob(), "audit-logs." + format);
      showMessage("");
    } catch (e) {
      showMessage("The export failed.");
    } finally {
      button.disabled = false;
    }
  }

  async function loadStatus() {
    const p = $("chain");
    try {
      const resp = await fetch(viewerBase + "/status", { headers: headers(), cache: "no-store", credentials: "same-origin" });
      const s = await resp.json();
      if (!s.configured) {
        p.textContent = "Chain status: not configured.";
        return;
      }
      if (s.scoped) {
        p.textContent = "Chain status: not shown to this link (it covers the whole log).";
        return;
      }
      if (!resp.ok || !s.chain) {
        setText(p, "Chain status: not available (" + valueText(s.error) + ").");
        return;
      }
      const c = s.chain;
      const seal = c.last_seal ? "last seal " + fmtTime(c.last_seal) + ", " + c.sealed + " sealed, " + c.unsealed + " waiting" : "never sealed";
      let verify = "never verified";
      if (c.last_verification) {
        verify = "last verification " + fmtTime(c.last_verification) + ": " + (c.problems === 0 ? "OK" : c.problems + " problems");
      }
      setText(p, "Chain status: " + seal + "; " + verify + (c.seal_error ? "; sealer error: " + valueText(c.seal_error) : "") + ".");
      p.classList.toggle("bad", c.problems > 0 || !!c.seal_error);
    } catch (e) {
      p.textContent = "Chain status: could not be read.";
    }
  }

  // loadAll shows the list, then the chain status unless the token was
  // refused (the status would be refused too).
  async function loadAll() {
    await load(true);
    if (refused) {
      $("chain").textContent = "Chain status: not shown.";
      return;
    }
    loadStatus();
  }

  function start() {
    const usable = takeToken();
    $("access").hidden = token !== "";
    const exports = $("exports");
    for (const f of formats) {
      const b = el("button", "", "Export " + f.toUpperCase());
      b.type = "button";
      b.dataset.format = f;
      b.addEventListener("click", () => exportAs(f, b));
      exports.append(b);
    }
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      query = readFilters();
      load(true);
    });
    $("filters").addEventListener("reset", () => {
      query = new URLSearchParams();
      body.dataset.busy = "1";
      setTimeout(() => load(true), 0);
    });
    $("access-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const t = $("token").value.trim();
      $("token").value = "";
      if (!tokenUsable(t)) {
        showMessage("That is not an access token: a token is one word of letters, digits and punctuation.");
        return;
      }
      token = t;
      $("access").hidden = true;
      loadAll();
    });
    $("more").addEventListener("click", () => load(false));
    $("close-detail").addEventListener("click", () => {
      $("detail").hidden = true;
      if (lastOpener) lastOpener.focus();
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !$("detail").hidden) $("close-detail").click();
    });
    // A link opened in a tab that shows the page already changes only
    // the fragment: take its token the same way.
    window.addEventListener("hashchange", () => {
      const before = token;
      if (!takeToken()) {
        showMessage(damaged);
        $("access").hidden = false;
        return;
      }
      if (token !== before) {
        $("access").hidden = true;
        loadAll();
      }
    });
    if (!usable) {
      showMessage(damaged);
      $("chain").textContent = "Chain status: not shown.";
      return;
    }
    loadAll();
  }

  start();
})();
