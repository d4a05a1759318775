// paperzoo serve: plain JS, no build step, no external resources.
"use strict";
const $ = (id) => document.getElementById(id);

async function api(method, path, body, headers) {
  const opts = { method, headers: headers || {} };
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer) { opts.body = body; }
    else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = { error: "answer was not JSON (" + r.status + ")" }; }
  if (!r.ok) throw new Error((data && data.error) || ("HTTP " + r.status));
  return data;
}

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }

// ------------------------------------------------------------------ G2P
async function pronounce() {
  const body = $("g2p-output").tBodies[0];
  body.replaceChildren();
  const text = $("g2p-input").value.trim();
  if (!text) return;
  try {
    const data = await api("POST", "/api/g2p", { text });
    for (const r of data.results) {
      const tr = el("tr");
      tr.append(el("td", r.word));
      tr.append(r.error ? el("td", r.error, "err") : el("td", r.phonemes.join(" "), "phon"));
      tr.append(el("td", r.source || ""));
      body.append(tr);
    }
  } catch (e) { const tr = el("tr"); tr.append(el("td", e.message, "err")); body.append(tr); }
}

// ----------------------------------------------------------------- chat
let session = null;
function say(who, text) { const d = el("div", text, "msg " + who); $("chat-log").append(d); $("chat-log").scrollTop = 1e9; }
async function chatStart() {
  $("chat-log").replaceChildren();
  try {
    const d = await api("POST", "/api/chat/sessions", { agent: $("chat-agent").value });
    session = d.session_id;
    if (d.reply) say("agent", d.reply);
    $("chat-input").disabled = false; $("chat-send").disabled = false; $("chat-input").focus();
  } catch (e) { say("err", e.message); }
}
async function chatSend(ev) {
  ev.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text || !session) return;
  $("chat-input").value = "";
  say("user", text);
  try { const d = await api("POST", "/api/chat/sessions/" + encodeURIComponent(session) + "/messages", { text }); say("agent", d.reply); }
  catch (e) { say("err", e.message); }
}

// --------------------------------------------------------------- search
async function search() {
  const out = $("search-results"); out.replaceChildren();
  const f = $("search-file").files[0]; if (!f) { out.append(el("p", "choose an image first", "error")); return; }
  const name = $("search-index").value, k = $("search-k").value || 8;
  try {
    const d = await api("POST", "/api/search/" + name + "?k=" + encodeURIComponent(k), f, { "Content-Type": f.type || "application/octet-stream" });
    for (const r of d.results) {
      const fig = el("figure"); const img = el("img"); img.src = "/api/search/" + name + "/images/" + r.id; img.alt = r.name;
      const how = r.distance !== undefined ? "Hamming " + r.distance + "/" + r.bits : "cosine " + r.score.toFixed(3);
      fig.append(img, el("figcaption", r.rank + ". " + r.name + " (" + how + ")")); out.append(fig);
    }
  } catch (e) { out.append(el("p", e.message, "error")); }
}

// ------------------------------------------------------------- netclass
async function netclass() {
  const out = $("netclass-result"); out.replaceChildren();
  const f = $("netclass-file").files[0]; if (!f) { out.append(el("p", "choose a network file first", "error")); return; }
  out.append(el("p", "computing walks, embedding and image…", "muted"));
  try {
    const d = await api("POST", "/api/netclass?format=" + $("netclass-format").value, f, { "Content-Type": "text/plain" });
    out.replaceChildren(el("p", d.nodes + " nodes, " + d.edges + " edges: " + d.predicted));
    const img = el("img"); img.src = d.image; img.alt = "CNC image"; out.append(img);
    const t = el("table");
    for (const p of d.probabilities) { const tr = el("tr"); tr.append(el("td", p.class)); const td = el("td"); const b = el("span", "", "bar"); b.style.width = (p.p * 200) + "px"; td.append(b, el("span", " " + (100 * p.p).toFixed(1) + " %")); tr.append(td); t.append(tr); }
    out.append(t);
  } catch (e) { out.replaceChildren(el("p", e.message, "error")); }
}

// ---------------------------------------------------------------- seg3d
async function seg3d() {
  const out = $("seg3d-result"); out.replaceChildren();
  const f = $("seg3d-file").files[0]; if (!f) { out.append(el("p", "choose a .nii or .nii.gz volume first", "error")); return; }
  out.append(el("p", "segmenting…", "muted"));
  try {
    const d = await api("POST", "/api/seg3d", f, { "Content-Type": "application/octet-stream" });
    out.replaceChildren(el("p", "volume " + d.shape.join("×") + "; voxels: " + Object.entries(d.voxels).map(([k, v]) => k + " " + v).join(", ")));
    const img = el("img"); img.src = d.image; img.alt = "slices with overlay"; out.append(img);
  } catch (e) { out.replaceChildren(el("p", e.message, "error")); }
}

// ----------------------------------------------------------------- start
async function init() {
  let sys;
  try { sys = await api("GET", "/api/systems"); } catch (e) { $("status").textContent = "cannot reach the server: " + e.message; return; }
  const p = sys.panels, absent = [];
  for (const [name, info] of Object.entries(p)) if (!info.available) absent.push(name + " (" + info.reason + ")");
  if (p.g2p && p.g2p.available) {
    $("panel-g2p").hidden = false; $("g2p-note").textContent = p.g2p.note || "";
    $("g2p-submit").addEventListener("click", pronounce);
    $("g2p-input").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); pronounce(); } });
  }
  if (p.chat && p.chat.available) {
    $("panel-chat").hidden = false;
    for (const k of p.chat.agents) { const o = el("option", k); o.value = k; $("chat-agent").append(o); }
    $("chat-start").addEventListener("click", chatStart);
    $("chat-form").addEventListener("submit", chatSend);
  }
  const idx = ["retrieval", "hash"].filter((n) => p[n] && p[n].available);
  if (idx.length) {
    $("panel-search").hidden = false;
    for (const n of idx) { const o = el("option", n); o.value = n; $("search-index").append(o); }
    $("search-submit").addEventListener("click", search);
  }
  if (p.netclass && p.netclass.available) { $("panel-netclass").hidden = false; $("netclass-submit").addEventListener("click", netclass); }
  if (p.seg3d && p.seg3d.available) { $("panel-seg3d").hidden = false; $("seg3d-submit").addEventListener("click", seg3d); }
  $("status").textContent = "device: " + sys.device + "; up to " + sys.limits.max_words + " words per request";
  $("absent").textContent = absent.length ? "Not loaded: " + absent.join("; ") : "";
  document.body.dataset.ready = "1";
}
document.addEventListener("DOMContentLoaded", init);
