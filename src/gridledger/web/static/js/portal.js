// The prosumer portal (kept out of the HTML: the Content-Security-Policy allows no inline script).
let me = null, account = null, market = null, myPrices = {};

function nextSteps(acc) {
  if (!me) return `<p>You are not signed in.</p><ol><li><a href="/login">Create an account or sign in</a>.</li><li>Share your address with the market's administrator, who registers you.</li></ol>`;
  const copy = `<div class="copy"><span>Your address:</span> <code id="myaddress">${esc(me.address)}</code> <button type="button" class="small secondary" id="copyaddr">Copy</button></div>`;
  if (!acc.registered) return `<p><strong>Your account is not registered in the market yet.</strong> What to do next:</p><ol><li>Send your address to the market's administrator and ask to be registered with the right to trade (or to generate, if you sell electricity).</li><li>Once registered, buy elecoins from an edge server, then buy electricity with them.</li></ol>${copy}`;
  if (!acc.trans_right && !acc.gen_right) return `<p><strong>You are registered as “${esc(acc.name)}” but have no rights yet.</strong> Ask the administrator for the trading right (to buy electricity) or the generation right (to sell it).</p>${copy}`;
  if (!acc.trans_right) return `<p>You are registered as “${esc(acc.name)}”, a retailer: your smart meter's generation readings become energy you sell. You may not buy electricity (ask the administrator for the trading right).</p>`;
  if (acc.elecoins <= 0) return `<p>You are registered as “${esc(acc.name)}” and may trade. <strong>Next: buy elecoins</strong> from an edge server (below); you pay in ${esc(SYM.native)} at its declared price.</p>`;
  if (acc.avail_power_kwh <= 0) return `<p>You hold ${esc(fmtElc(acc.elecoins))}. <strong>Next: buy electricity</strong> from a retailer (below); electricity costs ${esc(market ? market.unit_power_price_display : "")}.</p>`;
  return `<p>You hold ${esc(fmtElc(acc.elecoins))} and ${esc(fmtKwh(acc.avail_power_kwh))} of energy to use. Your history and daily totals are below.</p>`;
}

function renderAccount(acc) {
  const rights = [acc.trans_right ? `<span class="badge yes">may trade</span>` : `<span class="badge no">may not trade</span>`,
                  acc.gen_right ? `<span class="badge yes">may generate</span>` : ""].join(" ");
  $("account").innerHTML = `<table class="kv"><tbody>
    <tr><th scope="row">Name</th><td>${acc.registered ? esc(acc.name) : "not registered yet"}</td></tr>
    <tr><th scope="row">Address</th><td class="mono">${esc(acc.address)}</td></tr>
    <tr><th scope="row">Rights</th><td>${acc.registered ? rights : "none yet"}</td></tr>
    <tr><th scope="row">Elecoins</th><td id="balance">${esc(fmtElc(acc.elecoins))}</td></tr>
    <tr><th scope="row">Energy available</th><td><span id="power">${esc(fmtKwh(acc.avail_power_kwh))}</span><div class="hint">Energy you bought or generated and have not used yet: your meter's consumption readings draw on it${acc.gen_right ? "; retailers sell from it" : ""}.</div></td></tr>
    <tr><th scope="row">${esc(SYM.native)} (native coin)</th><td>${esc(fmtWei(acc.native_wei))}<div class="hint">Pays for elecoins and for transaction fees.</div></td></tr>
    <tr><th scope="row">Generated / used so far</th><td>${esc(fmtKwh(acc.total_gen_kwh))} / ${esc(fmtKwh(acc.total_use_kwh))}</td></tr></tbody></table>`;
}

function priceFor(server) {
  const p = myPrices[server.address];
  return p ? p : { price: server.price, price_display: server.price_display, personal: false };
}

function renderMarket() {
  if (!market) return;
  $("qline").textContent = `Electricity costs ${market.unit_power_price_display} (the market's fixed rate, Q). Elecoins cost what each edge server declares (from ${market.bounds.display}); ${market.bounds.slot_left_display} can still be bought in this ${fmtNum(market.bounds.slot_seconds / 60, 0)}-minute slot:`;
  show("pausedmsg", market.paused ? "The market is paused: purchases, trades and meter readings are refused until the administrator resumes it." : "", market.paused ? "warn" : "");
  const rows = market.edge_servers.map(s => {
    const p = priceFor(s);
    const kwh = p.price ? fmtCoin(p.price * market.unit_power_price_elecoins_per_kwh) + " per kWh" : "–";
    const when = s.declared_at ? `declared ${esc(fmtTime(s.declared_at).slice(11, 16))} UTC; ` : "";
    return `<tr><td>${addrLink(s.address)}<div class="hint">${when}may still sell ${esc(s.allocation_left_display)}</div></td><td class="num">${esc(p.price_display)}${p.personal ? ` <span class="badge">your personal price</span>` : ""}</td><td class="num">${esc(kwh)}</td></tr>`;
  });
  $("market").innerHTML = table(["Edge server", "Price per elecoin", "Electricity at this price"], rows, "pricetable");
  $("markettime").textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC; refreshed every 5 s.`;
  const sel = $("server"), keep = sel.value;
  sel.innerHTML = market.edge_servers.map(s => `<option value="${esc(s.address)}">${esc(s.label)} – ${esc(priceFor(s).price_display)}</option>`).join("");
  if (keep) sel.value = keep;
  const rsel = $("retailer"), rkeep = rsel.value;
  rsel.innerHTML = market.retailers.map(r => `<option value="${esc(r.address)}">${esc(r.name)} (${esc(fmtKwh(r.avail_power_kwh))} available)</option>`).join("");
  if (rkeep) rsel.value = rkeep;
  costs();
}

function selectedServer() { return market ? market.edge_servers.find(s => s.address === $("server").value) : null; }

function costs() {
  if (!market) return;
  const s = selectedServer(), n = Number($("elecoins").value);
  if (s && n > 0) {
    const p = priceFor(s);
    $("buycost").textContent = p.price ? `${fmtElc(n)} will cost about ${fmtCoin(n * p.price)} at ${p.price_display}.` : "This edge server has not declared a price yet.";
  } else $("buycost").textContent = "";
  const kwh = Number($("kwh").value), q = market.unit_power_price_elecoins_per_kwh;
  if (kwh > 0) {
    const elc = kwh * q;
    let t = `${fmtKwh(kwh)} costs ${fmtElc(elc)} (${market.unit_power_price_display})`;
    if (account) t += `; you hold ${fmtElc(account.elecoins)}${account.elecoins + 1e-12 < elc ? ": buy elecoins first" : ""}`;
    if (s && priceFor(s).price) t += `. In ${SYM.native}: about ${fmtCoin(elc * priceFor(s).price)} at ${s.label}'s price.`;
    $("tradecost").textContent = t;
  } else $("tradecost").textContent = "";
}

async function loadMarket() {
  market = await api("GET", "/api/market");
  SYM = market.symbols || SYM;
  if (me) {
    try {
      const p = await api("GET", `/api/market/prices?prosumer=${me.address}`);
      myPrices = Object.fromEntries(p.prices.map(x => [x.server, x]));
    } catch (e) { myPrices = {}; }
  }
  renderMarket();
}

function renderHistory(h) {
  const rows = h.rows.map(r => `<tr>${timeCell(r.timestamp)}<td>${esc(r.text)}</td><td class="num">${r.elecoins !== "0" ? esc(fmtNum(r.elecoins, 4)) : ""}</td><td class="num">${r.kwh !== "0" ? esc(fmtNum(r.kwh, 3)) : ""}</td><td class="num">${r.native !== "0" ? esc(fmtNum(r.native, 6)) : ""}</td><td>${txLink(r.tx)}</td></tr>`);
  $("history").innerHTML = rows.length ? table(["Time (UTC)", "What happened", `${esc(SYM.elecoin)}`, "kWh", esc(SYM.native), "Transaction"], rows, "historytable")
                                      : emptyState("Nothing yet: your purchases, trades and readings will show here.");
}

function renderDaily(d) {
  const t = d.total;
  $("bill").innerHTML = `<div class="cards">
    <div class="card"><div class="k">Electricity bought</div><div class="v">${esc(fmtKwh(t.bought_kwh))}</div></div>
    <div class="card"><div class="k">Paid for it</div><div class="v">${esc(fmtElc(t.elecoins_spent))}</div></div>
    <div class="card"><div class="k">Elecoins bought</div><div class="v">${esc(fmtElc(t.elecoins_bought))}</div></div>
    <div class="card"><div class="k">Paid for elecoins</div><div class="v">${esc(fmtCoin(t.native_spent))}</div></div>
    <div class="card"><div class="k">Produced / consumed</div><div class="v">${esc(fmtNum(t.production_kwh, 3))} / ${esc(fmtKwh(t.consumption_kwh))}</div></div>
    ${t.sold_kwh > 0 ? `<div class="card"><div class="k">Sold</div><div class="v">${esc(fmtKwh(t.sold_kwh))} for ${esc(fmtElc(t.elecoins_earned))}</div></div>` : ""}</div>`;
  if (!d.days.length) { noData("energychart", "No readings or trades yet: the daily charts appear with your first one."); $("spendchart").innerHTML = ""; return; }
  const xs = d.days.map((_, i) => i);  // one bar group per day with activity
  const dayFmt = i => (d.days[i] ? d.days[i].day : "");
  const xDays = { label: "day (UTC)", int: true, fmt: dayFmt, tick: dayFmt };
  chart("energychart", xs, { title: "Energy per day (kWh)", x: xDays, y: { label: "energy (kWh)", zero: true, fmt: v => fmtKwh(v) },
    series: [{ label: "production", values: d.days.map(x => x.production_kwh), bars: true },
             { label: "consumption", values: d.days.map(x => x.consumption_kwh), bars: true },
             { label: "purchases", values: d.days.map(x => x.bought_kwh), bars: true }] , stacked: false });
  chart("spendchart", xs, { title: `Spending per day (${SYM.elecoin} and ${SYM.native})`, x: xDays,
    y: { label: `elecoins (${SYM.elecoin})`, zero: true, fmt: v => fmtElc(v) }, y2: { label: `${SYM.native}`, zero: true, fmt: v => fmtCoin(v) },
    series: [{ label: `${SYM.elecoin} spent on electricity`, values: d.days.map(x => x.elecoins_spent), bars: true },
             { label: `${SYM.native} spent on elecoins`, values: d.days.map(x => x.native_spent), axis: 2, bars: true }] });
}

async function refresh() {
  me = await header();
  await loadLabels();
  await loadMarket().catch(e => { $("market").innerHTML = `<div class="msg err">${esc(e.message)}</div>`; });
  if (!me) { $("next").innerHTML = nextSteps(null); ready(); return; }
  account = await api("GET", `/api/accounts/${me.address}`);
  $("next").innerHTML = nextSteps(account);
  const copyBtn = $("copyaddr");
  if (copyBtn) copyBtn.onclick = async () => { try { await navigator.clipboard.writeText(me.address); copyBtn.textContent = "Copied"; } catch (e) { copyBtn.textContent = "Select and copy the address"; } };
  renderAccount(account);
  costs();
  $("csv").href = `/api/accounts/${me.address}/history.csv`;
  const [h, d] = await Promise.all([api("GET", `/api/accounts/${me.address}/history`), api("GET", `/api/accounts/${me.address}/daily`)]);
  renderHistory(h);
  renderDaily(d);
  const r = await api("GET", `/api/meters/${me.address}/readings`);
  $("readings").innerHTML = r.readings.length ? table(["Time (UTC)", "Kind", "Energy", "Meter", "Transaction"], r.readings.map(x => `<tr>${timeCell(x.timestamp)}<td>${esc(x.kind)}</td><td class="num">${esc(fmtKwh(x.energy_kwh))}</td><td>${addrLink(x.meter)}</td><td>${txLink(x.tx)}</td></tr>`))
                                              : emptyState("No readings yet: your smart meter's readings will show here.");
  ready();
}

$("server").onchange = costs;
$("elecoins").oninput = costs;
$("kwh").oninput = costs;
$("retailer").onchange = costs;
$("buy").onclick = async () => {
  const server = $("server").value, elecoins = Number($("elecoins").value);
  try {
    if (!me) throw new Error("Please sign in first.");
    const q = await api("GET", `/api/quote?server=${server}&elecoins=${elecoins}`);
    const w = await walletSend("buy", { server, amount: elecoins }, me);
    const r = w || await api("POST", "/api/buy", { server, elecoins });
    $("buymsg").innerHTML = `Bought ${esc(fmtElc(elecoins))} for ${esc(q.display)} (${esc(q.price_display)}). Transaction ${txLink(r.tx_hash, "buytx")}`;
    $("buymsg").className = "msg ok";
    refresh();
  } catch (e) { show("buymsg", e.message, "err"); }
};
$("check").onclick = async () => {
  const retailer = $("retailer").value, kwh = Number($("kwh").value);
  try {
    if (!me) throw new Error("Please sign in first.");
    const q = await api("GET", `/api/qualification?retailer=${retailer}&energy_kwh=${kwh}`);
    show("trademsg", q.qualified ? `You qualify: ${fmtKwh(kwh)} will cost ${q.cost_display} (you hold ${q.balance_display}).` : `Not possible now: ${q.message}`, q.qualified ? "ok" : "err");
  } catch (e) { show("trademsg", e.message, "err"); }
};
$("trade").onclick = async () => {
  const retailer = $("retailer").value, kwh = Number($("kwh").value);
  try {
    if (!me) throw new Error("Please sign in first.");
    const q = await api("GET", `/api/qualification?retailer=${retailer}&energy_kwh=${kwh}`);
    if (!q.qualified) { show("trademsg", `Not possible now: ${q.message}`, "err"); return; }
    const w = await walletSend("trade", { retailer, amount: kwh }, me);
    const r = w || await api("POST", "/api/trade", { retailer, energy_kwh: kwh });
    $("trademsg").innerHTML = `Bought ${esc(fmtKwh(kwh))} for ${esc(q.cost_display)}. Transaction <a id="tradetx" class="mono" href="/explorer/tx/${esc(r.tx_hash)}">${esc(short(r.tx_hash))}</a>`;
    $("trademsg").className = "msg ok";
    refresh();
  } catch (e) { show("trademsg", e.message, "err"); }
};
refresh();
setInterval(() => { if (!document.hidden) loadMarket().catch(() => {}); }, 5000);
