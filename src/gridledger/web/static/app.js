// Shared helpers of gridledger's pages: every page talks to the JSON API under /api.
"use strict";

function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : null;
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
    let detail = data && data.detail !== undefined ? data.detail : res.statusText;
    if (Array.isArray(detail)) detail = detail.map(d => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
    if (detail && typeof detail === "object") detail = detail.error + " " + JSON.stringify(detail.args || {});
    const err = new Error(String(detail));
    err.status = res.status;
    throw err;
  }
  return data;
}

function show(id, text, kind) {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = "msg " + (kind || "info");
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function short(a) { return a ? a.slice(0, 8) + "…" + a.slice(-6) : ""; }

function addrLink(a) { return a ? `<a class="mono" href="/explorer/address/${esc(a)}">${esc(short(a))}</a>` : ""; }

function txLink(h) { return `<a class="mono" href="/explorer/tx/${esc(h)}">${esc(short(h))}</a>`; }

async function header() {
  const who = document.getElementById("who");
  if (!who) return null;
  try {
    const me = await api("GET", "/api/me");
    who.innerHTML = `${esc(me.name)} (${esc(me.roles.join(", ") || "no role")}) <button id="logout">sign out</button>`;
    document.getElementById("logout").onclick = async () => { await api("POST", "/api/auth/logout"); location.href = "/login"; };
    return me;
  } catch (e) {
    who.innerHTML = `<a href="/login">sign in</a>`;
    return null;
  }
}

// A browser wallet (EIP-1193, e.g. MetaMask) signs if present; otherwise the server's keystore does.
async function walletSend(action, params, me) {
  if (!window.ethereum) return null;
  const [from] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const tx = await api("POST", "/api/wallet/prepare", Object.assign({ action, sender: from }, params));
  const hash = await window.ethereum.request({ method: "eth_sendTransaction", params: [tx] });
  return { tx_hash: hash, via: "browser wallet" };
}

function lineChart(id, series, opts) {
  // series: [{name, x: [...], y: [...], dashed}] -> inline SVG polyline chart.
  const W = 520, H = 240, P = 40;
  const xs = series.flatMap(s => s.x), ys = series.flatMap(s => s.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = x => P + (x - x0) / ((x1 - x0) || 1) * (W - 2 * P);
  const sy = y => H - P - (y - y0) / ((y1 - y0) || 1) * (H - 2 * P);
  const colors = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
  let svg = `<svg width="${W}" height="${H}" role="img" aria-label="${esc(opts.title)}">`;
  svg += `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(opts.title)}</text>`;
  svg += `<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#888"/><line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#888"/>`;
  svg += `<text x="${P}" y="${H - P + 14}" font-size="10">${x0}</text><text x="${W - P}" y="${H - P + 14}" font-size="10" text-anchor="end">${x1}</text>`;
  svg += `<text x="4" y="${sy(y1) + 4}" font-size="10">${y1.toFixed(2)}</text><text x="4" y="${sy(y0)}" font-size="10">${y0.toFixed(2)}</text>`;
  series.forEach((s, k) => {
    const pts = s.x.map((x, i) => `${sx(x).toFixed(1)},${sy(s.y[i]).toFixed(1)}`).join(" ");
    svg += `<polyline fill="none" stroke="${colors[k % colors.length]}" stroke-width="1.5" ${s.dashed ? 'stroke-dasharray="4 3"' : ""} points="${pts}"><title>${esc(s.name)}</title></polyline>`;
  });
  svg += "</svg>";
  document.getElementById(id).innerHTML = svg;
}
