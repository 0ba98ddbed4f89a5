// Trailmark proof checks in the browser: the record digest of
// storekit.Digest, the leaf of chain.LeafCommitment, the RFC 6962 (RFC
// 9162) inclusion path to the root, and the Ed25519 signature of the
// C2SP checkpoint note, with WebCrypto alone. It defines one global,
// TrailmarkProof, which viewer.js uses (and the tests call, to compare
// the digest with Go's).
"use strict";

(function () {
  const enc = new TextEncoder();
  const inclusionFormat = "trailmark.inclusion-proof.v1";
  const recordDomain = "trailmark.record.v2\n";
  // the seals made before digest v2 (storekit.LegacySealDigest)
  const recordDomainV1 = "trailmark.record.v1\n";
  const leafDomain = "trailmark.leaf.v1\n";
  // canonical.MaxDepth: deeper Details are sealed in a form this page
  // does not compute (storekit.SealDigest's unsealable domain).
  const maxDepth = 1000;
  // canonical.MaxNumberText.
  const maxNumberText = 400;

  // CannotCheck says the page cannot recompute what the log sealed: not
  // a failure of the record, a limit of the page.
  class CannotCheck extends Error {}

  // Num is a JSON number kept as its source text, as Go's json.Number.
  class Num {
    constructor(source) {
      this.source = source;
    }
  }

  // parseExact parses JSON text as JSON.parse does, but keeps every
  // number as a Num of its exact text (JSON.parse source text access);
  // where the browser cannot, numbers stay numbers and their records
  // cannot be checked.
  function parseExact(text) {
    try {
      return JSON.parse(text, function (key, value, context) {
        if (typeof value === "number" && context && typeof context.source === "string") return new Num(context.source);
        return value;
      });
    } catch (e) {
      if (e instanceof RangeError) throw new CannotCheck("it nests too deeply for this browser");
      throw e;
    }
  }

  // jsonString is canonical.AppendString: lone surrogates (invalid UTF-8
  // in Go) and NUL become U+FFFD; ", \, \n, \r, \t escaped; the other C0
  // controls as \u00XX; everything else as itself.
  function jsonString(s) {
    s = wellFormed(s).replace(/\u0000/g, "\uFFFD");
    return '"' + s.replace(/["\\\u0001-\u001f]/g, (c) => {
      switch (c) {
        case '"': return '\\"';
        case "\\": return "\\\\";
        case "\n": return "\\n";
        case "\r": return "\\r";
        case "\t": return "\\t";
      }
      return "\\u00" + c.charCodeAt(0).toString(16).padStart(2, "0");
    }) + '"';
  }

  function wellFormed(s) {
    if (typeof s.toWellFormed === "function") return s.toWellFormed();
    return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\uFFFD");
  }

  // canonNumber is canonical.AppendNumber: plain decimal notation, no
  // exponent, no leading or trailing zeros, no negative zero; null when
  // the number is out of range (Go writes its text as a string then).
  function canonNumber(s) {
    const neg = s[0] === "-";
    if (neg) s = s.slice(1);
    let mant = s;
    let exp = 0;
    const e = s.search(/[eE]/);
    if (e >= 0) {
      mant = s.slice(0, e);
      const xs = s.slice(e + 1);
      if (!/^[+-]?[0-9]+$/.test(xs)) return null;
      const x = parseInt(xs, 10);
      if (!(x <= maxNumberText && x >= -maxNumberText)) return null;
      exp = x;
    }
    let intPart = mant;
    let frac = "";
    const dot = mant.indexOf(".");
    if (dot >= 0) {
      intPart = mant.slice(0, dot);
      frac = mant.slice(dot + 1);
    }
    const all = intPart + frac;
    let p = intPart.length + exp;
    let lo = 0;
    while (lo < all.length && all[lo] === "0") {
      lo++;
      p--;
    }
    let hi = all.length;
    while (hi > lo && all[hi - 1] === "0" && hi - lo > p) hi--;
    const d = all.slice(lo, hi);
    if (d.length === 0) return "0";
    if (p > d.length + maxNumberText || -p > maxNumberText) return null;
    const sign = neg ? "-" : "";
    if (p <= 0) return sign + "0." + "0".repeat(-p) + d;
    if (p >= d.length) return sign + d + "0".repeat(p - d.length);
    return sign + d.slice(0, p) + "." + d.slice(p);
  }

  // compareUTF8 orders strings as Go's strings.Compare does: by their
  // UTF-8 bytes, which is the order of their code points.
  function compareUTF8(a, b) {
    const x = enc.encode(a);
    const y = enc.encode(b);
    const n = Math.min(x.length, y.length);
    for (let i = 0; i < n; i++) {
      if (x[i] !== y[i]) return x[i] - y[i];
    }
    return x.length - y.length;
  }

  // canonical writes a value of parseExact in the canonical JSON form of
  // package internal/canonical.
  function canonical(v, depth, out) {
    if (v === null) out.push("null");
    else if (v === true) out.push("true");
    else if (v === false) out.push("false");
    else if (typeof v === "string") out.push(jsonString(v));
    else if (v instanceof Num) {
      const n = canonNumber(v.source);
      out.push(n === null ? jsonString(v.source) : n);
    } else if (Array.isArray(v)) {
      if (depth + 1 > maxDepth) throw new CannotCheck("its details nest deeper than " + maxDepth + " levels");
      out.push("[");
      v.forEach((x, i) => {
        if (i > 0) out.push(",");
        canonical(x, depth + 1, out);
      });
      out.push("]");
    } else if (typeof v === "object") {
      if (depth + 1 > maxDepth) throw new CannotCheck("its details nest deeper than " + maxDepth + " levels");
      // Go decodes a lone surrogate as U+FFFD, the last member of a key
      // kept; keys the same once NUL is repaired too are ordered by the
      // key as Go decoded it, and the least is kept.
      const decoded = new Map();
      for (const k of Object.keys(v)) decoded.set(wellFormed(k), v[k]);
      const keys = Array.from(decoded, ([g, x]) => [g.replace(/\u0000/g, "\uFFFD"), x, g]);
      keys.sort((a, b) => compareUTF8(a[0], b[0]) || compareUTF8(a[2], b[2]));
      out.push("{");
      keys.forEach(([k, x], i) => {
        if (i > 0 && k === keys[i - 1][0]) return; // the same once repaired: the least as given is kept
        if (i > 0) out.push(",");
        out.push(jsonString(k), ":");
        canonical(x, depth + 1, out);
      });
      out.push("}");
    } else {
      throw new CannotCheck("this browser cannot read its numbers exactly");
    }
  }

  // canonicalJSON is storekit's digestJSON of a Details or Changes value:
  // absent and null alike, nothing.
  function canonicalJSON(v) {
    if (v === undefined || v === null) return "";
    const out = [];
    canonical(v, 0, out);
    return out.join("");
  }

  // Malformed says the record as served is not a record: it cannot be
  // the one the log sealed.
  class Malformed extends Error {}

  function uuidBytes(s) {
    if (typeof s !== "string" || !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) {
      throw new Malformed("its id is not a UUID");
    }
    const h = s.replace(/-/g, "");
    const b = new Uint8Array(16);
    for (let i = 0; i < 16; i++) b[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
    return b;
  }

  // daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
  // proleptic Gregorian calendar.
  function daysFromCivil(y, m, d) {
    y -= m <= 2 ? 1 : 0;
    const era = Math.floor(y / 400);
    const yoe = y - era * 400;
    const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
    const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
    return era * 146097 + doe - 719468;
  }

  // micros is the time field of storekit.Digest of an RFC 3339 time:
  // time.Time.UnixMicro as 8 big-endian bytes. In the legacy digest (v1),
  // the first four were overwritten by the field's length prefix (8): Go's
  // writeCanonical shared one buffer for both. This page hashes what Go
  // hashes, so it does the same for legacy.
  function micros(s, what, legacy) {
    const m = typeof s === "string" && /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
    if (!m) throw new Malformed("its " + what + " is not a time");
    const n = m.slice(1, 7).map(Number);
    let secs = daysFromCivil(n[0], n[1], n[2]) * 86400 + n[3] * 3600 + n[4] * 60 + n[5];
    if (m[8] !== "Z") {
      const off = Number(m[8].slice(1, 3)) * 3600 + Number(m[8].slice(4, 6)) * 60;
      secs -= m[8][0] === "-" ? -off : off;
    }
    const us = BigInt(secs) * 1000000n + BigInt(((m[7] || "") + "000000").slice(0, 6));
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, us));
    if (legacy) new DataView(b.buffer).setUint32(0, 8);
    return b;
  }

  function text(v, what) {
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") throw new Malformed("its " + what + " is not text");
    return v;
  }

  // ipText is netip.Addr.Unmap().String() of the served address: an
  // IPv4-mapped IPv6 address as IPv4 (its zone dropped).
  function ipText(v) {
    const s = text(v, "IP address");
    const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(%.*)?$/i.exec(s);
    return m ? m[1] : s;
  }

  function concat(parts) {
    let n = 0;
    for (const p of parts) n += p.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  // recordBytes is what storekit.Digest (or, legacy, LegacySealDigest)
  // hashes of a record as the API serves it (parsed by parseExact).
  function recordBytes(rec, legacy) {
    if (rec === null || typeof rec !== "object") throw new Malformed("it is not a record");
    const parts = [enc.encode(legacy ? recordDomainV1 : recordDomain)];
    const field = (b) => {
      const n = new Uint8Array(4);
      new DataView(n.buffer).setUint32(0, b.length);
      parts.push(n, b);
    };
    const str = (v, what) => field(enc.encode(text(v, what)));
    field(uuidBytes(rec.id));
    field(micros(rec.timestamp, "time", legacy));
    field(micros(rec.recorded_at, "recording time", legacy));
    str(rec.user_id, "user id");
    str(rec.user_email, "email");
    field(enc.encode(ipText(rec.ip_address)));
    str(rec.user_agent, "user agent");
    str(rec.action, "action");
    str(rec.resource_type, "resource type");
    str(rec.resource_id, "resource id");
    field(enc.encode(canonicalJSON(rec.details)));
    field(enc.encode(canonicalJSON(rec.changes)));
    str(rec.request_id, "request id");
    str(rec.session_id, "session id");
    str(rec.status, "status");
    str(rec.error_message, "error message");
    for (const tag of ["tenant_id", "trace_id", "span_id"]) {
      const v = text(rec[tag], tag);
      if (v !== "") {
        str(tag, tag);
        str(v, tag);
      }
    }
    return concat(parts);
  }

  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(parts)));
  }

  function hex(b) {
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  function base64(s) {
    if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return null;
    try {
      return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    } catch (e) {
      return null;
    }
  }

  // digest is storekit.Digest (legacy: LegacySealDigest) of a served
  // record, or a CannotCheck or Malformed error.
  async function digest(rec, legacy) {
    return sha256(recordBytes(rec, legacy));
  }

  // parseKey reads a signed-note verifier key, "name+hash+base64(1‖key)",
  // and checks that its hash is the one of its name and key.
  async function parseKey(vkey) {
    const parts = typeof vkey === "string" ? vkey.split("+") : [];
    if (parts.length < 3 || !/^[0-9a-f]{8}$/.test(parts[1])) throw new Error("the log key is malformed");
    const name = parts[0];
    const key = base64(parts.slice(2).join("+"));
    if (name === "" || key === null || key.length !== 33 || key[0] !== 1) throw new Error("the log key is not an Ed25519 key");
    const h = await sha256(enc.encode(name + "\n"), key);
    if (hex(h.slice(0, 4)) !== parts[1]) throw new Error("the log key's hash does not match it");
    const pub = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, hash: h.slice(0, 4), pub, text: vkey };
  }

  // openNote checks the signed note's signature by key and returns its
  // text (note.Open): the body, then a blank line, then signature lines
  // "— name base64(keyhash ‖ signature)".
  async function openNote(msg, key) {
    if (typeof msg !== "string") return { failed: "the proof has no checkpoint" };
    const i = msg.lastIndexOf("\n\n");
    if (i < 0 || !msg.endsWith("\n")) return { failed: "the checkpoint is not a signed note" };
    const body = msg.slice(0, i + 1);
    for (const line of msg.slice(i + 2, -1).split("\n")) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m || m[1] !== key.name) continue;
      const sig = base64(m[2]);
      if (sig === null || sig.length !== 68 || !equal(sig.slice(0, 4), key.hash)) continue;
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, key.pub, sig.slice(4), enc.encode(body));
      if (!ok) return { failed: "the checkpoint's signature by the log key is not valid" };
      return { body };
    }
    return { failed: "the checkpoint is not signed by the log key" };
  }

  // rootFromPath is the root of a tree of size leaves whose leaf index
  // has hash leaf and audit path path (RFC 9162, 2.1.3.2), or null when
  // the path does not fit the tree.
  async function rootFromPath(index, size, leaf, path) {
    if (index >= size) return null;
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    const node = new Uint8Array([1]);
    for (const p of path) {
      if (sn === 0n) return null;
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(node, p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = await sha256(node, r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n ? r : null;
  }

  function integer(v) {
    if (v instanceof Num) v = v.source;
    if (typeof v === "number") v = String(v);
    if (typeof v !== "string" || !/^(0|[1-9][0-9]*)$/.test(v)) return null;
    return BigInt(v);
  }

  // verify checks that rec, the record the page shows, is in the tree of
  // the checkpoint of proof (a parsed InclusionProof) and that key signed
  // that checkpoint. It returns {state, reason}: state "verified",
  // "failed" or "cannot".
  async function verify(rec, proof, key) {
    const fail = (reason) => ({ state: "failed", reason });
    if (proof === null || typeof proof !== "object" || proof.format !== inclusionFormat) return fail("the server sent no inclusion proof");
    const opened = await openNote(proof.checkpoint, key);
    if (opened.failed) return fail(opened.failed);
    const lines = opened.body.slice(0, -1).split("\n");
    if (lines.length < 3 || lines[0] !== key.name || !/^(0|[1-9][0-9]*)$/.test(lines[1])) return fail("the checkpoint is malformed");
    const size = BigInt(lines[1]);
    const root = base64(lines[2]);
    if (root === null || root.length !== 32) return fail("the checkpoint is malformed");
    if (integer(proof.tree_size) !== size) return fail("the proof is not of the checkpoint's tree");
    if (typeof rec.id !== "string" || typeof proof.record_id !== "string" || proof.record_id.toLowerCase() !== rec.id.toLowerCase()) {
      return fail("the proof is of another record");
    }
    const index = integer(proof.index);
    const salt = base64(proof.salt);
    // A tree of one leaf has an empty path, which Go may encode as null.
    const hashes = proof.hashes === null || proof.hashes === undefined ? [] : proof.hashes;
    const path = Array.isArray(hashes) ? hashes.map(base64) : null;
    if (index === null || salt === null || path === null || path.some((h) => h === null || h.length !== 32)) return fail("the proof is malformed");
    let d;
    try {
      d = await digest(rec);
    } catch (e) {
      if (e instanceof CannotCheck) return { state: "cannot", reason: e.message };
      if (e instanceof Malformed) return fail("the record as shown is malformed: " + e.message);
      throw e;
    }
    const rootOf = async (d) => rootFromPath(index, size, await sha256(new Uint8Array([0]), await sha256(enc.encode(leafDomain), salt, d)), path);
    let got = await rootOf(d);
    if (got === null || !equal(got, root)) {
      // a leaf of a seal made before digest v2 commits to the legacy
      // digest; a v2 leaf never matches it
      got = await rootOf(await digest(rec, true));
    }
    if (got === null || !equal(got, root)) {
      // Details that are not an object were stored around the Logger's
      // checks, or were not JSON (the API serves those as a string): the
      // log sealed a form of them this page does not compute.
      for (const v of [rec.details, rec.changes]) {
        if (v !== undefined && v !== null && (typeof v !== "object" || Array.isArray(v) || v instanceof Num)) {
          return { state: "cannot", reason: "its details are not a JSON object, whose sealed form this page does not compute" };
        }
      }
      return fail("the record shown is not the one the log sealed at leaf " + index + " of its signed tree of " + size);
    }
    return { state: "verified", reason: "leaf " + index + " of the tree of " + size + " records the log signed" };
  }

  window.TrailmarkProof = Object.freeze({
    parseExact,
    Num,
    CannotCheck,
    parseKey,
    verify,
    // digestHex is the hex storekit.Digest of the record in JSON text,
    // or "cannot: …" / "malformed: …".
    digestHex: async (json) => {
      try {
        return hex(await digest(parseExact(json)));
      } catch (e) {
        if (e instanceof CannotCheck) return "cannot: " + e.message;
        if (e instanceof Malformed) return "malformed: " + e.message;
        throw e;
      }
    },
  });
})();
