// The explorer (kept out of the HTML: the Content-Security-Policy allows no inline script).
const view = $("view");

function statusCell(t) {
  return t.status ? `<span class="status-ok">success</span>` : `<span class="status-failed">failed</span>`;
}

function txTable(txs, id) {
  if (!txs.length) return emptyState("No transactions.");
  return table(["Transaction", "Block", "Time (UTC)", "From", "To", "Call", "Value", "Fee", "Status"], txs.map(t =>
    `<tr><td>${txLink(t.hash)}</td><td><a href="/explorer/block/${t.block}">${t.block}</a></td>${timeCell(t.timestamp)}<td>${addrLink(t.sender)}</td><td>${t.recipient ? addrLink(t.recipient) : "creates " + addrLink(t.created)}</td><td>${esc(t.call)}</td><td class="num">${esc(t.value_display)}</td><td class="num">${esc(t.fee_display)}</td><td>${statusCell(t)}${t.error ? `<div class="hint">${esc(t.error.name)}</div>` : ""}</td></tr>`), id);
}

function counters(c) {
  const item = (k, v, id) => `<div class="card"><div class="k">${k}</div><div class="v"${id ? ` id="${id}"` : ""}>${esc(fmtNum(v, 0))}</div></div>`;
  return `<div class="cards" id="counters">${item("Blocks", c.blocks)}${item("Transactions", c.transactions, "c-txs")}${item("Failed", c.failed)}${item("Addresses", c.addresses)}${item("Contracts", c.contracts)}${item("Tokens", c.tokens)}${item("Token transfers", c.token_transfers)}</div>`;
}

let polling = null;
function progress(p) {
  const el = $("progress");
  if (p.indexed < p.head) {
    el.innerHTML = `<div class="msg progress" role="status">Indexing the chain: block ${p.indexed + 1} of ${p.head}. What is indexed shows now; this page fills in as the index catches up.</div>`;
    if (!polling) polling = setTimeout(() => { polling = null; route(true); }, 2000);
  } else el.innerHTML = "";
}

async function home(before) {
  const [r, tk] = await Promise.all([api("GET", "/api/explorer/blocks" + (before !== undefined ? `?before=${before}` : "")), api("GET", "/api/explorer/tokens")]);
  progress(r.progress);
  const last = r.blocks.length ? r.blocks[r.blocks.length - 1].number : 0;
  view.innerHTML = (before === undefined ? `<section><h2>Chain at a glance</h2>${counters(r.counters)}</section>` : "") +
    (before === undefined ? `<section><h2>Tokens</h2>${tokenTable(tk.tokens)}</section>` : "") +
    `<section><h2>Latest blocks</h2>` + (r.blocks.length ? table(["Block", "Time (UTC)", "Transactions", "Gas used", "Hash"],
      r.blocks.map(b => `<tr><td><a href="/explorer/block/${b.number}">${b.number}</a></td>${timeCell(b.timestamp)}<td class="num">${b.tx_count}</td><td class="num">${esc(fmtNum(b.gas_used, 0))}</td><td class="mono">${esc(short(b.hash))}</td></tr>`), "blocks")
      : emptyState("No block indexed yet.")) + `${last > 0 ? `<div class="pager"><a href="#" id="older">Older blocks</a></div>` : ""}</section>` +
    (r.transactions.length ? `<section><h2>Latest transactions</h2>${txTable(r.transactions, "latest")}</section>` : "");
  const older = $("older");
  if (older) older.onclick = (e) => { e.preventDefault(); home(last); };
}

function tokenTable(tokens) {
  if (!tokens.length) return emptyState("No token transfer seen yet.");
  return table(["Token", "Symbol", "Supply", "Holders", "Transfers"], tokens.map(t =>
    `<tr><td><a href="/explorer/token/${esc(t.address)}">${esc(t.label || t.name || short(t.address))}</a></td><td>${esc(t.symbol || "")}</td><td class="num">${esc(t.supply_display)}</td><td class="num">${t.holders}</td><td class="num">${t.transfers}</td></tr>`), "tokens");
}

async function tokens() {
  const r = await api("GET", "/api/explorer/tokens");
  view.innerHTML = `<section><h2>Tokens</h2>${tokenTable(r.tokens)}</section>`;
}

async function block(n) {
  const b = await api("GET", `/api/explorer/blocks/${n}`);
  view.innerHTML = `<section><h2>Block ${b.number}</h2><table class="kv"><tbody><tr><th scope="row">Time (UTC)</th>${timeCell(b.timestamp)}</tr><tr><th scope="row">Hash</th><td class="mono">${esc(b.hash)}</td></tr><tr><th scope="row">Parent</th><td class="mono">${b.number > 0 ? `<a href="/explorer/block/${b.number - 1}">${esc(b.parent)}</a>` : esc(b.parent)}</td></tr><tr><th scope="row">Gas used</th><td>${esc(fmtNum(b.gas_used, 0))} of ${esc(fmtNum(b.gas_limit, 0))}</td></tr>${b.base_fee ? `<tr><th scope="row">Base fee</th><td>${esc(fmtNum(Number(b.base_fee) / 1e9, 9))} gwei</td></tr>` : ""}</tbody></table><div class="pager">${b.number > 0 ? `<a href="/explorer/block/${b.number - 1}">← block ${b.number - 1}</a>` : ""}<a href="/explorer/block/${b.number + 1}">block ${b.number + 1} →</a></div></section><section><h2>Transactions</h2>${txTable(b.transactions)}</section>`;
}

function valueHtml(a) {
  const isAddr = x => typeof x === "string" && /^0x[0-9a-fA-F]{40}$/.test(x);
  if (a.display) return esc(a.display);
  if (isAddr(a.value)) return addrLink(a.value);
  if (Array.isArray(a.value)) return a.value.map(x => isAddr(x) ? addrLink(x) : esc(String(x))).join(", ");
  return `<span class="mono">${esc(typeof a.value === "object" ? JSON.stringify(a.value) : String(a.value))}</span>`;
}

function argsCell(items) {
  return (items || []).map(a => `<div><span class="hint">${esc(a.name)}:</span> ${valueHtml(a)}</div>`).join("");
}

async function tx(h) {
  const t = await api("GET", `/api/explorer/tx/${h}`);
  const pct = t.gas_limit ? ` (${fmtNum(100 * t.gas_used / t.gas_limit, 1)}% of the ${fmtNum(t.gas_limit, 0)} limit)` : "";
  const failure = t.error ? `<div class="msg err" id="revert"><strong>${esc(t.error.message)}</strong> ${esc(t.error.hint)} <span class="hint">(${esc(t.error.name)}${Object.keys(t.error.args || {}).length ? " " + esc(JSON.stringify(t.error.args)) : ""})</span></div>` : "";
  const created = t.contracts_created.length ? t.contracts_created.map(c => `${esc(c.name || "contract")} at ${addrLink(c.address)}`).join("; ") : "";
  const call = t.recipient === null ? `Creates ${esc(t.contract || "a contract")}${t.contract ? "" : " (not one of ours)"}` : `${esc(t.call)}`;
  view.innerHTML = `<section><h2>Transaction</h2>${failure}<table class="kv"><tbody>
    <tr><th scope="row">Hash</th><td class="mono" id="txhash">${esc(t.hash)}</td></tr>
    <tr><th scope="row">Status</th><td id="status">${statusCell(t)}</td></tr>
    <tr><th scope="row">Block</th><td><a href="/explorer/block/${t.block}">${t.block}</a></td></tr>
    <tr><th scope="row">Time</th><td id="time">${esc(fmtTime(t.timestamp))} UTC</td></tr>
    <tr><th scope="row">From</th><td>${addrLink(t.sender)} <span class="hint">nonce ${t.nonce}</span></td></tr>
    <tr><th scope="row">To</th><td>${t.recipient ? addrLink(t.recipient) : "contract creation"}</td></tr>
    ${created ? `<tr><th scope="row">Contracts created</th><td id="created">${created}</td></tr>` : ""}
    <tr><th scope="row">Call</th><td id="call">${call}</td></tr>
    <tr><th scope="row">Value</th><td>${esc(t.value_display)}</td></tr>
    <tr><th scope="row">Fee</th><td id="fee">${esc(t.fee_display)} <span class="hint">= ${esc(fmtNum(t.gas_used, 0))} gas × ${esc(t.gas_price_display)}</span></td></tr>
    <tr><th scope="row">Gas used</th><td id="gas">${esc(fmtNum(t.gas_used, 0))}${esc(pct)}</td></tr>
    <tr><th scope="row">Nonce</th><td id="nonce">${t.nonce}</td></tr></tbody></table></section>` +
    (t.inputs && t.inputs.length ? `<section><h2>Input</h2>${table(["Parameter", "Value"], t.inputs.map(a => `<tr><td>${esc(a.name)}</td><td>${valueHtml(a)}</td></tr>`), "inputs")}</section>` : "") +
    (t.transfers.length ? `<section><h2>Token transfers</h2>${table(["Token", "From", "To", "Amount"], t.transfers.map(x => `<tr><td><a href="/explorer/token/${esc(x.token)}">${esc(x.symbol || short(x.token))}</a></td><td>${addrLink(x.sender)}</td><td>${addrLink(x.recipient)}</td><td class="num">${esc(x.value_display)}</td></tr>`), "transfers")}</section>` : "") +
    (t.moves.length ? `<section><h2>Value moved inside the call</h2>${table(["From", "To", "Amount", "Seen by"], t.moves.map(x => `<tr><td>${x.sender ? addrLink(x.sender) : "–"}</td><td>${x.recipient ? addrLink(x.recipient) : "–"}</td><td class="num">${esc(x.value_display)}</td><td>${x.source === "trace" ? "the node's call trace" : "balance differences"}</td></tr>`), "moves")}</section>` : "") +
    `<section><h2>Events (${t.events.length})</h2>` + (t.events.length ? table(["#", "Contract", "Event", "Arguments"], t.events.map(e => `<tr><td>${e.log_index}</td><td>${addrLink(e.address)}</td><td>${esc(e.name || "(not decoded)")}</td><td>${e.name ? argsCell(e.display) : `<span class="mono">${esc(e.topics.join(" "))} ${esc(e.data)}</span>`}</td></tr>`), "events") : emptyState("No events.")) + "</section>";
}

async function address(a, page) {
  const r = await api("GET", `/api/explorer/address/${a}?page=${page || 0}`);
  const title = r.label ? esc(r.label) : (r.contract ? "Contract " + esc(r.contract) : "Address");
  const info = r.contract_info ? `<tr><th scope="row">Contract</th><td>${esc(r.contract_info.name || "not one of ours")}${r.contract_info.tx ? ` created by ${addrLink(r.contract_info.creator)} in ${txLink(r.contract_info.tx)}` : ""}${r.token ? ` · <a href="/explorer/token/${esc(r.address)}">token page</a>` : ""}</td></tr>` : "";
  view.innerHTML = `<section><h2>${title}</h2><table class="kv"><tbody><tr><th scope="row">Address</th><td class="mono">${esc(r.address)}</td></tr>${r.kind ? `<tr><th scope="row">Known as</th><td>${esc(r.label)} <span class="badge">${esc(r.kind)}</span></td></tr>` : ""}${info}
    <tr><th scope="row">${esc(SYM.native)}</th><td>${esc(r.balances.native_display)}</td></tr>
    ${r.tokens.map(t => `<tr><th scope="row">${esc(t.symbol || short(t.token))}</th><td><a href="/explorer/token/${esc(t.token)}">${esc(t.balance_display)}</a></td></tr>`).join("")}</tbody></table></section>` +
    (r.token_transfers.length ? `<section><h2>Token transfers (latest ${r.token_transfers.length})</h2>${table(["Time (UTC)", "Token", "From", "To", "Amount", "Transaction"], r.token_transfers.map(x => `<tr>${timeCell(x.timestamp)}<td><a href="/explorer/token/${esc(x.token)}">${esc(x.symbol || short(x.token))}</a></td><td>${addrLink(x.sender)}</td><td>${addrLink(x.recipient)}</td><td class="num">${esc(x.value_display)}</td><td>${txLink(x.tx)}</td></tr>`))}</section>` : "") +
    `<section><h2>Transactions (${r.total}, page ${r.page + 1} of ${r.pages})</h2>${txTable(r.transactions)}<div class="pager">${r.page > 0 ? `<a href="#" id="prev">Newer</a>` : ""}${r.page + 1 < r.pages ? `<a href="#" id="next">Older</a>` : ""}</div></section>`;
  if ($("next")) $("next").onclick = (e) => { e.preventDefault(); address(a, r.page + 1); };
  if ($("prev")) $("prev").onclick = (e) => { e.preventDefault(); address(a, r.page - 1); };
}

async function token(a, page, hpage) {
  const [r, h] = await Promise.all([api("GET", `/api/explorer/token/${a}?page=${page || 0}`), api("GET", `/api/explorer/token/${a}/holders?page=${hpage || 0}`)]);
  const t = r.token;
  view.innerHTML = `<section><h2>Token ${esc(t.label || t.name || "")} <span class="badge">${esc(t.symbol || "")}</span></h2><div class="cards">
      <div class="card"><div class="k">Total supply</div><div class="v" id="supply">${esc(t.supply_display)}</div></div>
      <div class="card"><div class="k">Holders</div><div class="v" id="holders-count">${t.holders}</div></div>
      <div class="card"><div class="k">Transfers</div><div class="v" id="transfers-count">${t.transfers}</div></div>
      <div class="card"><div class="k">Decimals</div><div class="v">${t.decimals}</div></div></div>
      <p>Contract ${addrLink(t.address)} <span class="mono">${esc(t.address)}</span>; name “${esc(t.name || "")}”.</p>${t.note ? `<p class="msg info" id="token-note">${esc(t.note)}</p>` : ""}</section>
    <section><h2>Holders</h2>${h.holders.length ? table(["Holder", "Balance", "Share"], h.holders.map(x => `<tr><td>${addrLink(x.holder)}</td><td class="num">${esc(x.balance_display)}</td><td class="num">${x.share_pct == null ? "" : (x.share_pct > 0 && x.share_pct < 0.01 ? "&lt; 0.01%" : esc(fmtNum(x.share_pct, 2)) + "%")}</td></tr>`), "holders") : emptyState("No holder.")}
      <div class="pager">${h.page > 0 ? `<a href="#" id="hprev">Previous</a>` : ""}${h.page + 1 < h.pages ? `<a href="#" id="hnext">More holders</a>` : ""}</div></section>
    <section><h2>Transfers</h2>${r.transfers.length ? table(["Time (UTC)", "From", "To", "Amount", "Transaction"], r.transfers.map(x => `<tr>${timeCell(x.timestamp)}<td>${x.sender === "0x0000000000000000000000000000000000000000" ? "minted" : addrLink(x.sender)}</td><td>${x.recipient === "0x0000000000000000000000000000000000000000" ? "burned" : addrLink(x.recipient)}</td><td class="num">${esc(x.value_display)}</td><td>${txLink(x.tx)}</td></tr>`), "token-transfers") : emptyState("No transfer.")}
      <div class="pager">${r.page > 0 ? `<a href="#" id="tprev">Newer</a>` : ""}${r.page + 1 < r.pages ? `<a href="#" id="tnext">Older transfers</a>` : ""}</div></section>`;
  const go = (id, p, hp) => { if ($(id)) $(id).onclick = (e) => { e.preventDefault(); token(a, p, hp); }; };
  go("tnext", r.page + 1, h.page); go("tprev", r.page - 1, h.page); go("hnext", r.page, h.page + 1); go("hprev", r.page, h.page - 1);
}

async function route(again) {
  if (!again) { await header(); }
  await loadLabels();
  const parts = location.pathname.split("/").filter(Boolean);
  try {
    if (parts[1] === "block") await block(parts[2]);
    else if (parts[1] === "tx") await tx(parts[2]);
    else if (parts[1] === "address") await address(parts[2]);
    else if (parts[1] === "token") await token(parts[2]);
    else if (parts[1] === "tokens") await tokens();
    else await home();
    if (parts[1]) api("GET", "/api/explorer/stats").then(s => progress(s.progress)).catch(() => {});
  } catch (e) { view.innerHTML = `<section><div class="msg err">${esc(e.message)}</div></section>`; }
  ready();
}
$("search").onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("GET", "/api/explorer/search?q=" + encodeURIComponent($("q").value));
    if (!r.kind) { show("searchmsg", "Nothing found: try a block number, a transaction hash, an address or a name.", "err"); return; }
    location.href = `/explorer/${r.kind}/${r.key}`;
  } catch (e) { show("searchmsg", e.message, "err"); }
};
route();
