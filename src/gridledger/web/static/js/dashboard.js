// The dashboard page (kept out of the HTML: the Content-Security-Policy allows no inline script).
header();
const addr = a => a ? `<a href="/explorer/address/${esc(a)}">${esc(short(a))}</a>` : "none";
const roundRows = rs => `<tr><th>round</th><th>phase</th><th>miner</th><th>validators (stake, EPOS)</th><th>credited</th><th>slashed</th><th>reward (UPOS)</th><th>traded kWh</th></tr>` +
  rs.map(r => `<tr><td>${r.round}</td><td>${esc(r.phase)}</td><td>${addr(r.miner)}</td><td>${r.validators.map(v => `${addr(v.address)} ${v.stake.toFixed(3)}${v.slashed ? " (slashed)" : ""}`).join("<br>")}</td><td>${r.credited.toFixed(3)}</td><td>${r.slashed.toFixed(3)}</td><td>${r.reward.toFixed(4)}</td><td>${r.traded_kwh.toFixed(2)}</td></tr>`).join("");
api("GET", "/api/dashboard/ledger").then(d => {
  if (d.community) {
    show("c-status", `${d.community.rounds.length} latest round(s); UPOS supply ${d.community.upos_supply.toFixed(4)}; slash ${d.community.slash_bps / 100}%`, "ok");
    document.getElementById("c-rounds").innerHTML = roundRows(d.community.rounds);
  } else show("c-status", "no community round on this chain yet: gridledger community run --chain --data-dir DIR", "info");
  if (d.fleet) {
    const coin = w => (Number(w) / 1e18).toFixed(6);
    show("f-status", `beta ${d.fleet.beta_bps / 100}%; ${coin(d.fleet.held_wei)} coin held by the settlement contract`, "ok");
    document.getElementById("f-rounds").innerHTML = roundRows(d.fleet.rounds);
    document.getElementById("f-evs").innerHTML = `<tr><th>EV</th><th>profit held (fee deducted)</th><th>fees to collect</th><th>state</th></tr>` +
      d.fleet.evs.map(e => `<tr><td>${addr(e.address)}</td><td>${coin(e.held_wei)}</td><td>${coin(e.fees_credit_wei)}</td><td>${e.expires_after_block === null ? "collected" : `uncollected: to the treasury after block ${e.expires_after_block}`}</td></tr>`).join("");
  } else show("f-status", "no fleet settlement on this chain yet: gridledger v2v settle --model DIR --data-dir DIR", "info");
}).catch(e => { show("c-status", e.message, "err"); show("f-status", e.message, "err"); });
const elecoin = () => api("GET", "/api/dashboard/elecoin").then(d => {
  if (d.pending) { show("status", "DMA-UBRL is learning the equilibrium (once per server, seconds)...", "info"); setTimeout(elecoin, 2000); return; }
  if (d.error) { show("status", d.error, "err"); return; }
  show("status", "ready", "ok");
  for (const [key, p] of [["u", "unified"], ["d", "discriminated"]]) {
    const r = d[p];
    const priceSeries = r.prices.map((ys, i) => ({ name: `price ${i + 1}`, x: r.episodes, y: ys }));
    const ap = Array.isArray(r.analytic.price) ? r.analytic.price : [r.analytic.price];
    lineChart(`${key}-price`, (p === "unified" ? priceSeries.slice(0, 1) : priceSeries).concat(ap.map((v, i) => ({ name: "analytic", x: [r.episodes[0], r.episodes[r.episodes.length - 1]], y: [v, v], dashed: true }))), { title: "unit elecoin price vs episode" });
    lineChart(`${key}-demand`, r.demands.map((ys, i) => ({ name: `prosumer ${i + 1}`, x: r.episodes, y: ys })), { title: "elecoin demands vs episode" });
    document.getElementById(`${key}-table`).innerHTML = `<tr><th></th><th>price</th><th>server utility</th><th>prosumers' utility</th></tr>` +
      [["analytic", r.analytic], ["DMA-UBRL", r.learned]].map(([n, o]) => `<tr><td>${n}</td><td>${esc(JSON.stringify(Array.isArray(o.price) ? o.price.map(x => +x.toFixed(2)) : +o.price.toFixed(3)))}</td><td>${o.server_utility.toFixed(2)}</td><td>${o.total_prosumer_utility.toFixed(2)}</td></tr>`).join("");
  }
}).catch(e => show("status", e.message, "err"));
elecoin();
