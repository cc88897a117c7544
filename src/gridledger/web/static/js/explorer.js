// The explorer page (kept out of the HTML: the Content-Security-Policy allows no inline script).
const view = document.getElementById("view");
function txTable(txs) {
  return "<table><tr><th>tx</th><th>block</th><th>from</th><th>to</th><th>call</th><th>status</th></tr>" + txs.map(t =>
    `<tr><td>${txLink(t.hash)}</td><td><a href="/explorer/block/${t.block}">${t.block}</a></td><td>${addrLink(t.sender)}</td><td>${addrLink(t.recipient || t.created)}</td><td>${esc((t.contract || "") + (t.method ? "." + t.method : ""))}</td><td>${t.status ? "ok" : "failed"}</td></tr>`).join("") + "</table>";
}
async function home(before) {
  const r = await api("GET", "/api/explorer/blocks" + (before !== undefined ? `?before=${before}` : ""));
  const last = r.blocks.length ? r.blocks[r.blocks.length - 1].number : 0;
  view.innerHTML = `<section><h2>Latest blocks (head ${r.head})</h2><table><tr><th>block</th><th>hash</th><th>txs</th><th>time</th></tr>` +
    r.blocks.map(b => `<tr><td><a href="/explorer/block/${b.number}">${b.number}</a></td><td class="mono">${esc(short(b.hash))}</td><td>${b.tx_count}</td><td>${new Date(b.timestamp * 1000).toISOString()}</td></tr>`).join("") +
    `</table>${last > 0 ? `<a href="#" id="older">older blocks</a>` : ""}</section>` +
    (r.transactions.length ? `<section><h2>Latest transactions</h2>${txTable(r.transactions)}</section>` : "");
  const older = document.getElementById("older");
  if (older) older.onclick = (e) => { e.preventDefault(); home(last); };
}
async function block(n) {
  const b = await api("GET", `/api/explorer/blocks/${n}`);
  view.innerHTML = `<section><h2>Block ${b.number}</h2><table><tr><th>hash</th><td class="mono">${esc(b.hash)}</td></tr><tr><th>parent</th><td class="mono">${esc(b.parent)}</td></tr><tr><th>time</th><td>${new Date(b.timestamp * 1000).toISOString()}</td></tr><tr><th>gas used</th><td>${b.gas_used}</td></tr></table></section><section><h2>Transactions</h2>${txTable(b.transactions)}</section>`;
}
async function tx(h) {
  const t = await api("GET", `/api/explorer/tx/${h}`);
  view.innerHTML = `<section><h2>Transaction</h2><table><tr><th>hash</th><td class="mono" id="txhash">${esc(t.hash)}</td></tr><tr><th>block</th><td><a href="/explorer/block/${t.block}">${t.block}</a></td></tr><tr><th>from</th><td>${addrLink(t.sender)}</td></tr><tr><th>to</th><td>${addrLink(t.recipient || t.created)}</td></tr><tr><th>value (wei)</th><td>${esc(t.value)}</td></tr><tr><th>status</th><td>${t.status ? "ok" : "failed"}</td></tr><tr><th>call</th><td id="call">${esc((t.contract || "") + (t.method ? "." + t.method : ""))} <span class="mono">${esc(JSON.stringify(t.args))}</span></td></tr></table></section>` +
    `<section><h2>Events</h2><table id="events"><tr><th>contract</th><th>event</th><th>arguments</th></tr>` + t.events.map(e => `<tr><td>${addrLink(e.address)}</td><td>${esc(e.name)}</td><td class="mono">${esc(JSON.stringify(e.args))}</td></tr>`).join("") + "</table></section>";
}
async function address(a, page) {
  const r = await api("GET", `/api/explorer/address/${a}?page=${page || 0}`);
  view.innerHTML = `<section><h2>${r.contract ? "Contract " + esc(r.contract) : "Address"} <span class="mono">${esc(r.address)}</span></h2><p>native coin: ${(Number(r.balances.native_wei) / 1e18).toFixed(6)}; elecoins: ${r.balances.elecoins}</p></section><section><h2>Transactions (${r.total}, page ${r.page + 1} of ${r.pages})</h2>${txTable(r.transactions)}${r.page + 1 < r.pages ? `<a href="#" id="next">next page</a>` : ""}</section>`;
  const next = document.getElementById("next");
  if (next) next.onclick = (e) => { e.preventDefault(); address(a, r.page + 1); };
}
async function route() {
  header();
  const parts = location.pathname.split("/").filter(Boolean);
  try {
    if (parts[1] === "block") await block(parts[2]);
    else if (parts[1] === "tx") await tx(parts[2]);
    else if (parts[1] === "address") await address(parts[2]);
    else await home();
  } catch (e) { view.innerHTML = `<div class="msg err">${esc(e.message)}</div>`; }
}
document.getElementById("search").onsubmit = async (ev) => {
  ev.preventDefault();
  const r = await api("GET", "/api/explorer/search?q=" + encodeURIComponent(document.getElementById("q").value));
  if (!r.kind) { show("searchmsg", "nothing found", "err"); return; }
  location.href = `/explorer/${r.kind}/${r.key}`;
};
route();
