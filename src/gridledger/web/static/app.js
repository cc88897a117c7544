// Shared helpers of gridledger's pages: every page talks to the JSON API under /api.
// No inline script or style anywhere (the Content-Security-Policy forbids them): styles are set
// through classes or the CSSOM (element.style), never through style attributes.
"use strict";

function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : null;
}

// A refusal of the API as one sentence: a contract's custom error comes with its meaning
// ("message") and what to do ("hint"); validation errors name the field.
function errorText(res, data) {
  let detail = data && data.detail !== undefined ? data.detail : res.statusText;
  if (Array.isArray(detail)) return detail.map(d => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
  if (detail && typeof detail === "object") {
    if (detail.message) return `${detail.message} ${detail.hint || ""}`.trim() + (detail.error ? ` (${detail.error})` : "");
    return detail.error + " " + JSON.stringify(detail.args || {});
  }
  if (res.status === 401) return "Please sign in first.";
  return String(detail);
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const csrf = cookie("gl_csrf");
  if (csrf && method !== "GET") headers["X-CSRF-Token"] = csrf;
  const res = await fetch(path, { method, headers, credentials: "same-origin",
                                  body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (!res.ok) {
    const err = new Error(errorText(res, data));
    err.status = res.status;
    err.detail = data && data.detail;
    throw err;
  }
  return data;
}

function $(id) { return document.getElementById(id); }

function show(id, text, kind) {
  const el = $(id);
  el.textContent = text;
  el.className = "msg " + (kind || "info");
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function short(a) { return a ? a.slice(0, 8) + "…" + a.slice(-6) : ""; }

// -- numbers with sensible decimals: at most `dp` decimals, trailing zeros dropped, thousands
// separated; a nonzero value below the last decimal keeps two significant digits.
function fmtNum(x, dp) {
  x = Number(x);
  if (!isFinite(x)) return "–";
  if (x === 0) return "0";
  if (dp > 0 && Math.abs(x) < Math.pow(10, -dp)) return x.toLocaleString("en-US", { maximumSignificantDigits: 2, maximumFractionDigits: 20 });
  return x.toLocaleString("en-US", { maximumFractionDigits: dp });
}

let SYM = { native: "ETH", elecoin: "ELC", energy: "kWh" };
const fmtCoin = x => `${fmtNum(x, 6)} ${SYM.native}`;
const fmtElc = x => `${fmtNum(x, 4)} ${SYM.elecoin}`;
const fmtKwh = x => `${fmtNum(x, 3)} kWh`;
const fmtWei = w => fmtCoin(Number(w) / 1e18);
function fmtTime(ts) {  // block times in UTC (the column headers say so)
  if (!ts) return "";
  return new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19);
}
const timeCell = ts => `<td class="time">${esc(fmtTime(ts))}</td>`;

// -- labels of accounts (contracts, roles, users, meters, EVs), loaded once per page
let LABELS = {};
async function loadLabels() {
  try {
    const r = await api("GET", "/api/explorer/labels");
    LABELS = r.labels || {};
    if (r.symbols) SYM = r.symbols;
  } catch (e) { LABELS = {}; }
  return LABELS;
}
function labelOf(a) { return a && LABELS[a] ? LABELS[a].label : null; }

function addrLink(a) {
  if (!a) return "";
  const l = labelOf(a);
  return l ? `<a href="/explorer/address/${esc(a)}" title="${esc(a)}">${esc(l)}</a>`
           : `<a class="mono" href="/explorer/address/${esc(a)}" title="${esc(a)}">${esc(short(a))}</a>`;
}

function txLink(h, id) { return `<a class="mono"${id ? ` id="${id}"` : ""} href="/explorer/tx/${esc(h)}" title="${esc(h)}">${esc(short(h))}</a>`; }

function table(headers, rows, id, caption) {
  // The wrapper scrolls sideways on phones: it takes the keyboard focus so that it can be scrolled without a mouse.
  const name = caption || headers.filter(Boolean).slice(0, 3).join(", ").replace(/<[^>]*>/g, "");
  return `<div class="table-wrap" tabindex="0" role="region" aria-label="${esc("table: " + name)}"><table${id ? ` id="${id}"` : ""}><thead><tr>${headers.map(h => `<th scope="col">${h}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

function emptyState(text) { return `<p class="empty">${esc(text)}</p>`; }

// -- header: who is signed in, sign-out; the navigation wraps on phones (style.css)
async function header() {
  const who = $("who");
  const here = location.pathname.split("/")[1] || "";
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.getAttribute("href") === "/" + here) a.setAttribute("aria-current", "page");
  }
  if (!who) return null;
  try {
    const me = await api("GET", "/api/me");
    who.innerHTML = `<span class="name">${esc(me.name)} <span class="roles">(${esc(me.roles.join(", ") || "no role yet")})</span></span> <button id="logout" type="button" class="small">Sign out</button>`;
    $("logout").onclick = async () => { await api("POST", "/api/auth/logout"); location.href = "/login"; };
    return me;
  } catch (e) {
    who.innerHTML = `<a href="/login">Sign in</a>`;
    return null;
  }
}

function ready() { document.body.dataset.ready = "1"; }

// A browser wallet (EIP-1193, e.g. MetaMask) signs if present; otherwise the server's keystore does.
async function walletSend(action, params, me) {
  if (!window.ethereum) return null;
  const [from] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const tx = await api("POST", "/api/wallet/prepare", Object.assign({ action, sender: from }, params));
  const hash = await window.ethereum.request({ method: "eth_sendTransaction", params: [tx] });
  return { tx_hash: hash, via: "browser wallet" };
}

// -- charts (uPlot, vendored: /static/vendor/uplot): axes with units, legend, tooltip
const COLORS = ["#1f5fa8", "#c0392b", "#2e8540", "#b35c00", "#6f42c1", "#00796b", "#8d6e63", "#ad1457", "#455a64", "#7c8a00"];

function tooltipPlugin(fmtX) {
  let tip;
  return {
    hooks: {
      init: u => { tip = document.createElement("div"); tip.className = "chart-tip"; tip.hidden = true; u.over.appendChild(tip); },
      setCursor: u => {
        const i = u.cursor.idx;
        if (i == null || u.cursor.left < 0) { tip.hidden = true; return; }
        const lines = [`<strong>${esc(fmtX(u.data[0][i]))}</strong>`];
        u.series.forEach((s, k) => {
          if (k === 0 || !s.show) return;
          const raw = s._raw ? s._raw[i] : u.data[k][i];
          if (raw == null) return;
          lines.push(`${esc(s.label)}: ${esc(s._fmt ? s._fmt(raw) : fmtNum(raw, 4))}`);
        });
        tip.innerHTML = lines.join("<br>");
        tip.hidden = false;
        const left = Math.min(u.cursor.left + 12, u.over.clientWidth - tip.offsetWidth - 4);
        tip.style.left = Math.max(0, left) + "px";
        tip.style.top = Math.max(0, u.cursor.top - tip.offsetHeight - 8) + "px";
      },
    },
  };
}

// opts: {title, x: {label, time, int, fmt, tick, range}, y: {label, fmt, tick, zero}, y2: {...}, height,
//        series: [{label, values, color, dash, bars, points, axis: 2, fmt}], stacked: bool}
function chart(el, xs, opts) {
  if (typeof el === "string") el = $(el);
  el.innerHTML = "";
  el.classList.add("chart");
  el.setAttribute("role", "figure");
  el.setAttribute("aria-label", opts.title);
  const titleEl = document.createElement("div");
  titleEl.className = "chart-title";
  titleEl.textContent = opts.title;
  el.appendChild(titleEl);
  const time = !!(opts.x && opts.x.time);
  const fmtX = (opts.x && opts.x.fmt) || (time ? (v => fmtTime(v)) : (v => fmtNum(v, 2)));
  let data = opts.series.map(s => s.values.map(v => v == null ? null : Number(v)));
  const raws = data.map(d => d.slice());
  if (opts.stacked) {  // cumulative sums, drawn largest first so each band shows its share
    const acc = xs.map(() => 0);
    data = data.map(d => d.map((v, i) => (acc[i] += (v || 0))));
  }
  const order = opts.stacked ? data.map((_, k) => k).reverse() : data.map((_, k) => k);
  const series = [{ label: opts.x ? opts.x.label : "x", value: (u, v) => v == null ? "" : fmtX(v) }];
  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : null;
  const barSeries = opts.series.map((s, k) => s.bars ? k : -1).filter(k => k >= 0);
  const grouped = !opts.stacked && barSeries.length > 1;
  for (const k of order) {
    const s = opts.series[k];
    const color = s.color || COLORS[k % COLORS.length];
    const f = s.fmt || (s.axis === 2 && opts.y2 && opts.y2.fmt) || (opts.y && opts.y.fmt) || (v => fmtNum(v, 4));
    const entry = { label: s.label, stroke: color, width: s.bars ? 1 : 2, scale: s.axis === 2 ? "y2" : "y",
                    value: (u, v, si, i) => (i == null ? "–" : (raws[k][i] == null ? "–" : f(raws[k][i]))),
                    _raw: raws[k], _fmt: f, spanGaps: !!s.spanGaps };
    entry.points = { show: false };
    if (s.dash) entry.dash = [6, 4];
    if (s.bars && bars) { entry.paths = grouped ? groupedBars(barSeries.indexOf(k), barSeries.length) : bars; entry.fill = color + "cc"; }
    if (s.points) { entry.paths = () => null; entry.points = { show: true, size: 7, fill: color }; }
    if (s.step && uPlot.paths && uPlot.paths.stepped) entry.paths = uPlot.paths.stepped({ align: 1 });
    series.push(entry);
  }
  const intX = !time && opts.x && opts.x.int;
  const tickX = (opts.x && opts.x.tick) || (v => fmtNum(v, 2));
  const xAxis = { label: opts.x ? opts.x.label : "", stroke: "#3b4754", grid: { stroke: "#e6e9ed" }, space: time ? 90 : 40 };
  if (!time) xAxis.values = (u, vals) => vals.map(v => (intX && !Number.isInteger(v)) ? "" : tickX(v));
  if (intX) xAxis.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  // Ticks get as many decimals as their spacing needs (0.0822 and 0.08221 must not both read 0.0822).
  const ticks = (o) => (u, vals) => {
    if (o && o.tick) return vals.map(o.tick);
    const step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) : 0;
    const dp = step > 0 ? Math.min(12, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 6;
    return vals.map(v => v.toLocaleString("en-US", { minimumFractionDigits: dp, maximumFractionDigits: dp }));
  };
  const axes = [xAxis,
    { label: opts.y ? opts.y.label : "", scale: "y", values: ticks(opts.y), size: 76, stroke: "#3b4754", grid: { stroke: "#e6e9ed" } }];
  if (opts.y2) axes.push({ label: opts.y2.label, scale: "y2", side: 1, values: ticks(opts.y2), size: 76, grid: { show: false }, stroke: "#3b4754" });
  const scales = { x: { time }, y: { range: (u, lo, hi) => rangeOf(lo, hi, opts.y && opts.y.zero) } };
  if (opts.y2) scales.y2 = { range: (u, lo, hi) => rangeOf(lo, hi, opts.y2.zero) };
  if (opts.x && opts.x.range) scales.x.range = () => opts.x.range;
  else if (intX && xs.length) scales.x.range = () => [Math.min(...xs) - 0.5, Math.max(...xs) + 0.5];
  const box = document.createElement("div");
  el.appendChild(box);
  const width = () => Math.max(260, el.clientWidth - 2);
  const u = new uPlot({ width: width(), height: opts.height || 260, series, axes, scales,
                        legend: { live: false }, cursor: { drag: { x: false, y: false } },
                        tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),  // axes in UTC, as the tooltips
                        plugins: [tooltipPlugin(fmtX)] },
                      [xs.map(Number), ...order.map(k => data[k])], box);
  if (window.ResizeObserver) new ResizeObserver(() => u.setSize({ width: width(), height: opts.height || 260 })).observe(el);
  return u;
}

// Bars of several series side by side at each x (series `k` of `n`), from zero.
function groupedBars(k, n) {
  return (u, si, i0, i1) => {
    const xs = u.data[0], ys = u.data[si];
    const px = v => u.valToPos(v, "x", true), py = v => u.valToPos(v, u.series[si].scale, true);
    let step = Infinity;
    for (let i = 1; i < xs.length; i++) step = Math.min(step, px(xs[i]) - px(xs[i - 1]));
    if (!isFinite(step)) step = u.bbox.width / 3;
    const group = Math.min(step * 0.8, 36 * n * (window.devicePixelRatio || 1));
    const w = group / n, y0 = py(0);
    const path = new Path2D();
    for (let i = i0; i <= i1; i++) {
      if (ys[i] == null || ys[i] === 0) continue;
      const y = py(ys[i]);
      path.rect(px(xs[i]) - group / 2 + k * w, Math.min(y, y0), w * 0.9, Math.max(1, Math.abs(y0 - y)));
    }
    return { stroke: path, fill: path };
  };
}

function rangeOf(lo, hi, zero) {
  if (lo == null || hi == null) return [0, 1];
  if (zero) { lo = Math.min(0, lo); hi = Math.max(0, hi); }
  if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
  const pad = (hi - lo) * 0.08;
  return [zero && lo === 0 ? 0 : lo - pad, hi + pad];
}

function noData(el, text) {
  if (typeof el === "string") el = $(el);
  el.innerHTML = `<p class="empty">${esc(text)}</p>`;
}
