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
  const pageSize = 50;

  let token = "";
  let cursor = "";
  let query = new URLSearchParams();
  let shown = 0;
  let lastOpener = null;

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

  // Takes the token from the fragment (#token=…) and removes it from the
  // address bar and the history.
  function takeToken() {
    const h = window.location.hash;
    if (h.startsWith("#token=")) {
      token = decodeURIComponent(h.slice("#token=".length));
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

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
      return "Access refused (401): the token is missing, invalid or expired. " + detail;
    }
    if (resp.status === 403) return "Not allowed (403): " + detail;
    return "The audit log could not be read (" + resp.status + "): " + detail;
  }

  function fmtTime(s) {
    if (typeof s !== "string") return "";
    return s.replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function valueText(v) {
    if (typeof v === "string") return v;
    if (v === undefined) return "";
    return JSON.stringify(v);
  }

  // readFilters turns the form into the API's query parameters.
  function readFilters() {
    const q = new URLSearchParams();
    for (const [name, id] of [["user_id", "f-user"], ["action", "f-action"], ["resource_type", "f-rtype"], ["resource_id", "f-rid"], ["status", "f-status"]]) {
      const v = $(id).value.trim();
      if (v) q.set(name, v);
    }
    for (const [name, id] of [["start_date", "f-start"], ["end_date", "f-end"]]) {
      const v = $(id).value;
      if (v) {
        const d = new Date(v);
        if (!isNaN(d)) q.set(name, d.toISOString().replace(/\.000Z$/, "Z"));
      }
    }
    return q;
  }

  function row(rec) {
    const tr = el("tr", "status-" + (["success", "failure", "error"].includes(rec.status) ? rec.status : "other"));
    tr.dataset.id = valueText(rec.id);
    const resource = valueText(rec.resource_type) + (rec.resource_id ? " / " + valueText(rec.resource_id) : "");
    const open = el("button", "open", "View");
    open.type = "button";
    open.setAttribute("aria-label", escaped("View event " + valueText(rec.action) + " at " + fmtTime(rec.timestamp)));
    open.addEventListener("click", () => { lastOpener = open; showDetail(rec); });
    tr.append(
      el("td", "c-time", el("span", "lbl", "Time "), fmtTime(rec.timestamp)),
      el("td", "c-actor", el("span", "lbl", "Actor "), valueText(rec.user_id), rec.user_email ? el("span", "email", valueText(rec.user_email)) : null),
      el("td", "c-action", el("span", "lbl", "Action "), valueText(rec.action)),
      el("td", "c-resource", el("span", "lbl", "Resource "), resource),
      el("td", "c-status", el("span", "lbl", "Status "), el("span", "badge", valueText(rec.status))),
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
      if (!superseded()) showMessage("The audit log API could not be reached.");
      return;
    }
    if (superseded()) return;
    $("more").disabled = false;
    if (!resp.ok) {
      const why = await problemText(resp);
      if (superseded()) return;
      showMessage(why);
      $("more").hidden = true;
      if (resp.status === 401) $("access").hidden = false;
      return;
    }
    showMessage("");
    const page = await resp.json();
    if (superseded()) return;
    const items = Array.isArray(page.items) ? page.items : [];
    const rows = $("rows");
    for (const rec of items) rows.append(row(rec));
    shown += items.length;
    cursor = typeof page.next_cursor === "string" ? page.next_cursor : "";
    $("more").hidden = cursor === "";
    $("count").textContent = shown === 0 ? "No events match." : shown + (shown === 1 ? " event" : " events") + (cursor ? " shown; more are available." : " shown; that is all.");
  }

  // tree renders a JSON value as nested lists.
  function tree(v) {
    if (v === null || typeof v !== "object") return el("span", "leaf", valueText(v));
    const ul = el("ul", "");
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.keys(v).sort().map((k) => [k, v[k]]);
    if (entries.length === 0) return el("span", "leaf empty", Array.isArray(v) ? "[]" : "{}");
    for (const [k, x] of entries) {
      ul.append(el("li", "", el("span", "key", k), ": ", tree(x)));
    }
    return ul;
  }

  function showDetail(rec) {
    const fields = $("detail-fields");
    fields.replaceChildren();
    for (const [label, key] of [["ID", "id"], ["Time", "timestamp"], ["Recorded", "recorded_at"], ["Actor", "user_id"], ["Email", "user_email"],
      ["IP address", "ip_address"], ["User agent", "user_agent"], ["Action", "action"], ["Resource type", "resource_type"],
      ["Resource id", "resource_id"], ["Status", "status"], ["Error", "error_message"], ["Request id", "request_id"], ["Session id", "session_id"]]) {
      const v = rec[key];
      if (v === undefined || v === null || v === "") continue;
      fields.append(el("dt", "", label), el("dd", "", key === "timestamp" || key === "recorded_at" ? fmtTime(v) : valueText(v)));
    }
    $("detail-tree").replaceChildren(rec.details && typeof rec.details === "object" ? tree(rec.details) : el("p", "none", "No details."));
    const tb = $("detail-changes").tBodies[0];
    tb.replaceChildren();
    const changes = rec.changes && typeof rec.changes === "object" ? rec.changes : {};
    const names = Object.keys(changes).sort();
    for (const name of names) {
      const c = changes[name] || {};
      tb.append(el("tr", "", el("th", "", name), el("td", "before", valueText(c.before)), el("td", "arrow", "→"), el("td", "after", valueText(c.after))));
    }
    $("detail-changes").hidden = names.length === 0;
    setText($("detail-title"), "Event " + valueText(rec.action));
    $("detail").hidden = false;
    $("detail-title").focus();
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
      const blob = await resp.blob();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "audit-logs." + format;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
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

  function start() {
    takeToken();
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
      token = $("token").value.trim();
      $("token").value = "";
      $("access").hidden = token !== "";
      loadStatus();
      load(true);
    });
    $("more").addEventListener("click", () => load(false));
    $("close-detail").addEventListener("click", () => {
      $("detail").hidden = true;
      if (lastOpener) lastOpener.focus();
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !$("detail").hidden) $("close-detail").click();
    });
    loadStatus();
    load(true);
  }

  start();
})();
