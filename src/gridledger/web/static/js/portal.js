// The portal page (kept out of the HTML: the Content-Security-Policy allows no inline script).
let me = null;
async function refresh() {
  me = await header();
  const m = await api("GET", "/api/market");
  document.getElementById("server").innerHTML = m.edge_servers.map(s => `<option value="${esc(s.address)}">${esc(short(s.address))} (${(Number(s.uniform_price_wei) / Number(m.wei_per_money)).toFixed(3)} per elecoin)</option>`).join("");
  document.getElementById("retailer").innerHTML = m.retailers.map(r => `<option value="${esc(r.address)}">${esc(r.name)} (${r.avail_power_kwh.toFixed(3)} kWh)</option>`).join("");
  if (!me) return;
  document.getElementById("account").innerHTML = `<table><tr><th>address</th><td class="mono">${esc(me.address)}</td></tr>
    <tr><th>rights</th><td>${me.trans_right ? "trade" : ""} ${me.gen_right ? "generate" : ""}</td></tr>
    <tr><th>available power</th><td id="power">${me.avail_power_kwh.toFixed(3)} kWh</td></tr>
    <tr><th>elecoins</th><td id="balance">${me.elecoins.toFixed(4)}</td></tr>
    <tr><th>native coin</th><td>${(Number(me.native_wei) / 1e18).toFixed(4)}</td></tr></table>`;
  const h = await api("GET", `/api/accounts/${me.address}/history`);
  document.getElementById("history").innerHTML = "<tr><th>block</th><th>event</th><th>details</th><th>tx</th></tr>" +
    h.events.map(e => `<tr><td>${e.block}</td><td>${esc(e.name)}</td><td class="mono">${esc(JSON.stringify(e.args))}</td><td>${txLink(e.tx)}</td></tr>`).join("");
  if (me.meter_of === null) {
    const r = await api("GET", `/api/meters/${me.address}/readings`);
    document.getElementById("readings").innerHTML = "<tr><th>block</th><th>kind</th><th>kWh</th><th>meter</th></tr>" +
      r.readings.map(x => `<tr><td>${x.block}</td><td>${x.kind}</td><td>${x.energy_kwh}</td><td>${addrLink(x.meter)}</td></tr>`).join("");
  }
}
document.getElementById("buy").onclick = async () => {
  const server = document.getElementById("server").value, elecoins = Number(document.getElementById("elecoins").value);
  try {
    const q = await api("GET", `/api/quote?server=${server}&elecoins=${elecoins}`);
    const w = await walletSend("buy", { server, amount: elecoins }, me);
    const r = w || await api("POST", "/api/buy", { server, elecoins });
    show("buymsg", `bought ${elecoins} elecoins for ${(Number(q.wei) / 1e18).toFixed(6)} coin: tx ${r.tx_hash}`, "ok");
    refresh();
  } catch (e) { show("buymsg", e.message, "err"); }
};
document.getElementById("check").onclick = async () => {
  const retailer = document.getElementById("retailer").value, kwh = Number(document.getElementById("kwh").value);
  try {
    const q = await api("GET", `/api/qualification?retailer=${retailer}&energy_kwh=${kwh}`);
    show("trademsg", `qualification: ${q.qualification}`, q.qualified ? "ok" : "err");
  } catch (e) { show("trademsg", e.message, "err"); }
};
document.getElementById("trade").onclick = async () => {
  const retailer = document.getElementById("retailer").value, kwh = Number(document.getElementById("kwh").value);
  try {
    const q = await api("GET", `/api/qualification?retailer=${retailer}&energy_kwh=${kwh}`);
    if (!q.qualified) { show("trademsg", `not qualified: ${q.qualification}`, "err"); return; }
    const w = await walletSend("trade", { retailer, amount: kwh }, me);
    const r = w || await api("POST", "/api/trade", { retailer, energy_kwh: kwh });
    document.getElementById("trademsg").innerHTML = `bought ${kwh} kWh: <a id="tradetx" href="/explorer/tx/${esc(r.tx_hash)}">${esc(r.tx_hash)}</a>`;
    document.getElementById("trademsg").className = "msg ok";
    refresh();
  } catch (e) { show("trademsg", e.message, "err"); }
};
refresh();
