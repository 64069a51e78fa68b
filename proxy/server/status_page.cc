#include "proxy/server/status_page.h"

namespace ix::proxy {

namespace {

constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ixcluster status</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 12px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .meta { color: #d0d7de; font-size: 13px; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
  section h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px 4px 0; border-bottom: 1px solid #eaeef2; vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  .state { font-weight: 600; }
  .state.primary, .state.ready { color: var(--ok); }
  .state.backup, .state.not-ready { color: var(--warn); }
  .state.down { color: var(--bad); }
  .muted { color: var(--muted); }
  .big { font-size: 28px; font-weight: 600; }
  .numbers { display: flex; gap: 28px; }
  .chart { display: flex; align-items: center; gap: 12px; margin: 4px 0; }
  .chart .name { width: 130px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .chart .now { width: 48px; text-align: right; font-weight: 600; }
  svg { background: #f6f8fa; border-radius: 3px; }
  polyline { fill: none; stroke: #0969da; stroke-width: 1.5; }
  polyline.errors { stroke: var(--bad); }
  .scale { font-size: 11px; color: var(--muted); }
  .key-requests { color: #0969da; font-weight: 600; }
  .key-errors { color: var(--bad); font-weight: 600; }
  #error-banner { display: none; background: #ffebe9; color: var(--bad); padding: 8px 20px; }
  .alarm { background: #ffebe9; color: var(--bad); padding: 4px 8px; border-radius: 3px; margin: 4px 0; }
  .over { color: var(--bad); font-weight: 600; }
  #pacing-section { display: none; grid-column: 1 / -1; }
  #trouble .trouble { background: #ffebe9; color: var(--bad); border-left: 4px solid var(--bad); padding: 6px 20px; font-weight: 600; }
  #trouble .all-well { color: var(--ok); padding: 6px 20px; }
  tr.bad td { background: #ffebe9; }
  td.bad { color: var(--bad); font-weight: 600; }
  .wide { grid-column: 1 / -1; }
  .small { font-size: 12px; }
</style>
</head>
<body>
<header><h1>ixcluster</h1><span class="meta" id="who">loading…</span><span class="meta" id="updated"></span></header>
<div id="error-banner"></div>
<div id="trouble"></div>
<main>
  <section class="wide"><h2>Node pairs</h2>
    <table id="pairs"><thead><tr><th>pair</th><th>node</th><th>address</th><th>state</th><th>version</th><th>up</th>
      <th>interactions</th><th>requests / s</th><th>errors / s</th>
      <th title="mean time from a proxy sending a request to the pair to its reply, over every proxy's replies in the last sample that had some (a held pull's wait excluded)">latency</th>
      <th title="the serving node's mean commit time over the last sample with commits: every change waits for one">commit</th><th>failovers</th><th>last failover</th>
      <th>agents ready / busy / not ready / dnd</th><th>queue depths</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide"><h2>Proxies</h2>
    <table id="proxies"><thead><tr><th>proxy</th><th>address</th><th>state</th><th>version</th><th>up</th><th>cannot reach</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide"><h2>Requests and errors per pair <span class="muted small">(<span class="key-requests">requests / s</span>,
      <span class="key-errors">errors / s</span>; one scale for every line)</span></h2>
    <div id="rates"></div><div class="scale" id="rates-scale"></div>
  </section>
  <section><h2>Queue depths <span class="muted" id="window"></span></h2><div id="queues"></div><div class="scale" id="queues-scale"></div></section>
  <section><h2>Agents <span class="muted small">(the pair that counts the most; per pair above)</span></h2>
    <div class="numbers">
      <div><div class="big" id="agents-logged-in">–</div><div class="muted">logged in</div></div>
      <div><div class="big" id="agents-ready">–</div><div class="muted">ready</div></div>
      <div><div class="big" id="agents-busy">–</div><div class="muted">busy</div></div>
      <div><div class="big" id="agents-not-ready">–</div><div class="muted">not ready</div></div>
      <div><div class="big" id="agents-dnd">–</div><div class="muted">do not disturb</div></div>
    </div>
  </section>
  <section><h2>Reporting stream</h2>
    <div class="chart"><span class="name" title="events the pairs log, whether or not a reporting client reads them">events / s</span><svg id="reporting-chart" width="240" height="36"></svg><span class="now" id="reporting-rate">–</span></div>
    <div class="scale" id="reporting-scale"></div>
    <div class="muted small">through this proxy: <span id="proxy-reporting-rate">–</span> / s (only while a reporting client or pacing reads it)</div>
  </section>
  <section id="pacing-section"><h2>Pacing</h2>
    <div id="pacing-master" class="muted"></div>
    <div id="pacing-alarms"></div>
    <table id="pacing"><thead><tr><th>target</th><th>allowed</th><th>pending</th><th>waiting</th><th>agents ready / busy</th><th>abandoned 5 min</th><th>abandoned 15 min</th><th>goal</th><th>mode</th></tr></thead><tbody></tbody></table>
  </section>
  <section><h2>Errors answered, last 5 minutes</h2>
    <table id="errors"><thead><tr><th>proxy</th><th>code</th><th>meaning</th><th>count</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
"use strict";
const ERRORS = {
  "2000": "operation not supported by the cluster", "2001": "no node pair serves the media",
  "2002": "lost the connection to a node", "2003": "interaction not accessible",
  "2004": "operation already in progress", "2005": "duplicate interaction", "2006": "snapshot not accessible",
  "201": "invalid attribute", "202": "missing attribute", "203": "invalid condition", "301": "unknown interaction",
  "302": "unknown agent", "307": "wrong state", "308": "no seats available"
};

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function stateCell(state) {
  return el("td", { class: "state " + String(state).replace(" ", "-") }, state);
}

// Draws each series as a line in the svg, against `max` (the scale shared by every chart of a
// section, so lines compare at a glance). series: [{values, cls}].
function spark(svg, series, max) {
  const w = Number(svg.getAttribute("width")), h = Number(svg.getAttribute("height"));
  svg.innerHTML = "";
  for (const s of series) {
    const values = s.values;
    const step = values.length > 1 ? w / (values.length - 1) : w;
    const points = values.map((v, i) => (i * step).toFixed(1) + "," + (h - 2 - (v / max) * (h - 4)).toFixed(1));
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points.join(" "));
    if (s.cls) line.setAttribute("class", s.cls);
    svg.appendChild(line);
  }
}

function svgChart(attrs) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", "240");
  svg.setAttribute("height", "36");
  for (const [k, v] of Object.entries(attrs || {})) svg.setAttribute(k, v);
  return svg;
}

// A scale's top: at least 1, rounded up to 1, 2 or 5 times a power of ten.
function niceMax(values) {
  const max = Math.max(1, ...values);
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  for (const m of [1, 2, 5, 10]) if (max <= m * p) return m * p;
  return max;
}

function scaleLabel(id, max, unit, minutes) {
  document.getElementById(id).textContent = "scale: 0 to " + max + " " + unit + " · last " + minutes + " min, a sample every 2 s";
}

function uptime(seconds) {
  if (seconds === undefined) return "–";
  const s = Math.floor(seconds);
  if (s < 120) return s + " s";
  if (s < 7200) return Math.floor(s / 60) + " min";
  if (s < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}

function version(p) {
  return p.version ? p.version + (p.commit ? " (" + String(p.commit).slice(0, 8) + ")" : "") : "–";
}

function rate(value) {
  return value === undefined ? "–" : value.toFixed(1);
}

function ms(value) {
  return value === undefined ? "–" : value.toFixed(value < 10 ? 2 : 0) + " ms";
}

// The red lines: a pair with no serving node, a pair that lost its backup, a proxy that cannot
// reach a pair, a proxy that is down. The watcher lists them in overview.trouble.
function renderTrouble(c) {
  const box = document.getElementById("trouble");
  box.innerHTML = "";
  const lines = c.trouble || [];
  for (const line of lines) {
    box.appendChild(el("div", { class: "trouble", "data-trouble": line.split(":")[0] }, line));
  }
  if (!lines.length && c.pairs) box.appendChild(el("div", { class: "all-well" }, "Every pair is served and has its backup; every proxy reaches every pair."));
}

function render(status) {
  const c = status.overview || {};
  document.getElementById("who").textContent = "proxy " + status.proxy + " · proxy cluster " + status.cluster +
    " · " + version(status) + " · up " + uptime(status.uptime_seconds);
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  renderTrouble(c);

  const pairs = document.querySelector("#pairs tbody");
  pairs.innerHTML = "";
  for (const pair of c.pairs || []) {
    const troubled = (pair.trouble || []).length > 0;
    (pair.nodes || []).forEach((node, i) => {
      const row = el("tr", { "data-pair": pair.id, "data-node": node.configured_as, "data-state": node.state,
                             class: troubled ? "bad" : "" });
      const serving = node.state === "primary";
      row.appendChild(el("td", {}, i === 0 ? pair.id : ""));
      row.appendChild(el("td", {}, node.configured_as));
      row.appendChild(el("td", { class: "muted" }, node.address));
      row.appendChild(stateCell(node.state));
      row.appendChild(el("td", { class: "muted small" }, node.state === "down" ? "" : version(node)));
      row.appendChild(el("td", { class: "muted small" }, node.state === "down" ? "" : uptime(node.uptime_seconds)));
      row.appendChild(el("td", {}, serving ? String(node.interactions ?? 0) : ""));
      row.appendChild(el("td", { "data-rate": "requests" }, serving ? rate(pair.requests_per_s) : ""));
      row.appendChild(el("td", { "data-rate": "errors", class: serving && pair.errors_per_s > 0 ? "bad" : "" },
                         serving ? rate(pair.errors_per_s) : ""));
      row.appendChild(el("td", serving ? { "data-latency": pair.id } : {}, serving ? ms(pair.latency_ms) : ""));
      row.appendChild(el("td", serving ? { "data-commit": pair.id } : {}, serving ? ms(pair.commit_ms) : ""));
      row.appendChild(el("td", i === 0 ? { "data-failovers": pair.id } : {}, i === 0 ? String(pair.failovers ?? 0) : ""));
      row.appendChild(el("td", i === 0 ? { class: "muted small", "data-last-failover": pair.id } : { class: "muted small" },
                         i === 0 && pair.last_failover_ms ? ago(pair.last_failover_ms * 1000) : ""));
      const a = node.agents || {};
      row.appendChild(el("td", { "data-agents": pair.id },
                         serving ? (a.ready ?? 0) + " / " + (a.busy ?? 0) + " / " + (a.not_ready ?? 0) + " / " + (a.dnd ?? 0) : ""));
      const depths = Object.entries(node.queues || {}).map(([q, d]) => q + " " + d).join(", ");
      row.appendChild(el("td", { class: "small", "data-queues": pair.id }, serving ? depths || "none" : ""));
      pairs.appendChild(row);
    });
  }

  const proxies = document.querySelector("#proxies tbody");
  proxies.innerHTML = "";
  for (const p of c.proxies || []) {
    const unreachable = p.unreachable_pairs || [];
    const row = el("tr", { "data-proxy": p.id, "data-state": p.state, class: p.state === "down" || unreachable.length ? "bad" : "" });
    row.appendChild(el("td", {}, p.id));
    row.appendChild(el("td", { class: "muted" }, p.address));
    row.appendChild(stateCell(p.state));
    row.appendChild(el("td", { class: "muted small" }, p.state === "down" ? "" : version(p)));
    row.appendChild(el("td", { class: "muted small" }, p.state === "down" ? "" : uptime(p.uptime_seconds)));
    row.appendChild(el("td", { class: unreachable.length ? "bad" : "muted" }, unreachable.join(", ") || (p.state === "down" ? "" : "none")));
    proxies.appendChild(row);
  }

  const history = c.history || [];
  const minutes = history.length ? ((history[history.length - 1].t_ms - history[0].t_ms) / 60000).toFixed(1) : 0;
  document.getElementById("window").textContent = "(last " + minutes + " min)";
  const queues = document.getElementById("queues");
  queues.innerHTML = "";
  const queueMax = niceMax(history.flatMap(s => Object.values(s.queues || {})));
  for (const [name, depth] of Object.entries(c.queues || {})) {
    const row = el("div", { class: "chart", "data-queue": name });
    row.appendChild(el("span", { class: "name", title: name }, name));
    const svg = svgChart({ "data-spark": "queue" });
    row.appendChild(svg);
    row.appendChild(el("span", { class: "now" }, String(depth)));
    queues.appendChild(row);
    spark(svg, [{ values: history.map(s => (s.queues || {})[name] || 0) }], queueMax);
  }
  scaleLabel("queues-scale", queueMax, "interactions", minutes);

  // Request and error rates per pair (the serving node's), all on one scale.
  const rates = document.getElementById("rates");
  rates.innerHTML = "";
  const perPair = (s, id, key) => ((s.pairs || {})[id] || {})[key] || 0;
  const pairIds = (c.pairs || []).map(p => p.id);
  const rateMax = niceMax(history.flatMap(s => pairIds.flatMap(id => [perPair(s, id, "requests_per_s"), perPair(s, id, "errors_per_s")])));
  for (const pair of c.pairs || []) {
    const row = el("div", { class: "chart", "data-rates": pair.id });
    row.appendChild(el("span", { class: "name" }, pair.id));
    const svg = svgChart({ "data-spark": "rates" });
    row.appendChild(svg);
    row.appendChild(el("span", { class: "now key-requests", "data-now": "requests" }, rate(pair.requests_per_s)));
    row.appendChild(el("span", { class: "now key-errors", "data-now": "errors" }, rate(pair.errors_per_s)));
    rates.appendChild(row);
    spark(svg, [{ values: history.map(s => perPair(s, pair.id, "requests_per_s")), cls: "requests" },
                { values: history.map(s => perPair(s, pair.id, "errors_per_s")), cls: "errors" }], rateMax);
  }
  scaleLabel("rates-scale", rateMax, "per second", minutes);

  const agents = c.agents || {};
  document.getElementById("agents-logged-in").textContent = agents.logged_in ?? "–";
  document.getElementById("agents-ready").textContent = agents.ready ?? "–";
  document.getElementById("agents-busy").textContent = agents.busy ?? "–";
  document.getElementById("agents-not-ready").textContent = agents.not_ready ?? "–";
  document.getElementById("agents-dnd").textContent = agents.dnd ?? "–";

  document.getElementById("reporting-rate").textContent = (c.reporting_events_per_s || 0).toFixed(1);
  document.getElementById("proxy-reporting-rate").textContent = (c.proxy_reporting_events_per_s || 0).toFixed(1);
  const eventValues = history.map(s => s.reporting_events_per_s || 0);
  const eventMax = niceMax(eventValues);
  spark(document.getElementById("reporting-chart"), [{ values: eventValues }], eventMax);
  scaleLabel("reporting-scale", eventMax, "events per second", minutes);

  const errors = document.querySelector("#errors tbody");
  errors.innerHTML = "";
  // Each error with the proxy that answered it.
  const recent = Object.entries(c.recent_errors_by_proxy || {}).flatMap(([proxy, codes]) =>
    Object.entries(codes).map(([code, count]) => [proxy, code, count]));
  if (!recent.length) {
    const row = el("tr");
    row.appendChild(el("td", { colspan: "4", class: "muted" }, "none"));
    errors.appendChild(row);
  }
  for (const [proxy, code, count] of recent) {
    const row = el("tr", { "data-code": code, "data-proxy": proxy });
    row.appendChild(el("td", {}, proxy));
    row.appendChild(el("td", {}, code));
    row.appendChild(el("td", { class: "muted" }, ERRORS[code] || ""));
    row.appendChild(el("td", {}, String(count)));
    errors.appendChild(row);
  }
  renderPacing(status.pacing);
  document.body.setAttribute("data-loaded", "true");
}

function ago(us) {
  const s = Math.max(0, (Date.now() * 1000 - us) / 1e6);
  return s < 90 ? s.toFixed(0) + " s ago" : (s / 60).toFixed(0) + " min ago";
}

// Proactive abandonment of one window against the goal: "1.9 % (2 of 104)", red above the goal.
function abandonmentCell(window, goal) {
  const accepted = (window || {}).accepted || 0, abandoned = (window || {}).abandoned || 0;
  if (accepted + abandoned === 0) return el("td", { class: "muted" }, "–");
  const rate = 100 * abandoned / (accepted + abandoned);
  return el("td", { class: rate > goal ? "over" : "" }, rate.toFixed(1) + " % (" + abandoned + " of " + (accepted + abandoned) + ")");
}

function renderPacing(p) {
  const section = document.getElementById("pacing-section");
  section.style.display = p ? "block" : "none";
  if (!p) return;
  const m = p.master || {};
  let line = m.holder ? "master: " + m.holder + (m.is_master ? " (this proxy)" : "") : "master: none";
  if (m.is_master && m.since_us) line += " since " + new Date(m.since_us / 1000).toLocaleTimeString();
  if (m.fencing) line += " · fencing " + m.fencing;
  const post = p.post || {};
  if (post.at_us) line += " · last post " + post.result + " " + ago(post.at_us) + (post.detail ? ": " + post.detail : "");
  if (p.stale) line += " · STALE statistics, pacing progressively";
  document.getElementById("pacing-master").textContent = line;
  const alarms = document.getElementById("pacing-alarms");
  alarms.innerHTML = "";
  for (const a of p.alarms || []) {
    alarms.appendChild(el("div", { class: "alarm", "data-alarm": a.name },
      a.name + " (" + a.detect_id + ") since " + new Date(a.since_us / 1000).toLocaleTimeString() + ": " + a.detail));
  }
  const body = document.querySelector("#pacing tbody");
  body.innerHTML = "";
  for (const t of p.targets || []) {
    const row = el("tr", { "data-target": t.target });
    const d = t.decision || {}, a = t.agents || {}, w = t.windows || {};
    row.appendChild(el("td", {}, t.target));
    row.appendChild(el("td", {}, d.invitations === undefined ? "–" : String(d.invitations)));
    row.appendChild(el("td", {}, String(t.pending_invitations ?? 0)));
    row.appendChild(el("td", {}, String(t.waiting ?? 0)));
    row.appendChild(el("td", {}, (a.ready ?? 0) + " / " + (a.busy ?? 0)));
    row.appendChild(abandonmentCell(w["5m"], t.goal_percent));
    row.appendChild(abandonmentCell(w["15m"], t.goal_percent));
    row.appendChild(el("td", {}, t.goal_percent + " %"));
    row.appendChild(el("td", { class: "muted" }, d.mode || "–"));
    body.appendChild(row);
  }
}

async function refresh() {
  const banner = document.getElementById("error-banner");
  try {
    const response = await fetch("/status", { cache: "no-store" });
    if (!response.ok) throw new Error("/status answered " + response.status);
    render(await response.json());
    banner.style.display = "none";
  } catch (e) {
    banner.textContent = "Cannot reach this proxy's admin port: " + e.message;
    banner.style.display = "block";
  }
}

refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

}  // namespace

std::string_view status_page_html() { return kPage; }

}  // namespace ix::proxy
