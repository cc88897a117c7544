// The dashboards (kept out of the HTML: the Content-Security-Policy allows no inline script).
const pending = new Set(["market", "community", "ledger", "fleet", "elecoin"]);
function done(part) { pending.delete(part); if (!pending.size) ready(); }
const pct = v => `${fmtNum(100 * v, 1)}%`;

// ------------------------------------------------------------------ the live market
function stepAt(points, t) {  // the last declared price at time t
  let v = null;
  for (const p of points) { if (p.t <= t) v = p.price; else break; }
  return v;
}

async function liveMarket() {
  const d = await api("GET", "/api/dashboard/market");
  const eq = d.equilibrium;
  const eqPrice = eq.price_native.length === 1 ? eq.price_native[0] : null;
  const times = [...new Set([...d.servers.flatMap(s => s.declarations.map(x => x.t)), ...d.purchases.map(x => x.t), ...d.trades.map(x => x.t)])].sort((a, b) => a - b);
  const eqText = eq.price_native.length === 1 ? `equilibrium ${fmtCoin(eq.price_native[0])}/${SYM.elecoin}`
                                              : `equilibrium personal prices ${eq.price_native.map(p => fmtNum(p, 6)).join(", ")} ${SYM.native}/${SYM.elecoin}`;
  if (!times.length) {
    show("m-status", `No price declared and no purchase on this chain yet (${eqText}: ${eq.source}).`, "info");
    noData("m-price", "The chart starts with the first declared price."); $("m-volume").innerHTML = "";
    return;
  }
  show("m-status", `${d.purchases.length} purchases of elecoins and ${d.trades.length} trades of electricity so far; ${eqText} (${eq.source}).`, "ok");
  const series = d.servers.map(s => ({ label: `declared by ${s.label}`, values: times.map(t => stepAt(s.declarations, t)), step: true, fmt: v => `${fmtCoin(v)}/${SYM.elecoin}` }));
  const byT = {};
  for (const p of d.purchases) (byT[p.t] = byT[p.t] || []).push(p.price);
  if (eqPrice != null) series.push({ label: "Stackelberg equilibrium", values: times.map(() => eqPrice), dash: true, color: "#2e8540", fmt: v => `${fmtCoin(v)}/${SYM.elecoin}` });
  else eq.price_native.forEach((p, i) => series.push({ label: `equilibrium, prosumer ${i + 1}`, values: times.map(() => p), dash: true, fmt: v => `${fmtCoin(v)}/${SYM.elecoin}` }));
  series.push({ label: "paid per elecoin (a purchase)", values: times.map(t => byT[t] ? byT[t].reduce((a, b) => a + b, 0) / byT[t].length : null), points: true, color: "#c0392b", fmt: v => `${fmtCoin(v)}/${SYM.elecoin}` });
  chart("m-price", times, { title: `Price of an elecoin (${SYM.native} per ${SYM.elecoin})`, x: { label: "time (UTC)", time: true },
    y: { label: `${SYM.native}/${SYM.elecoin}` }, series });
  let elc = 0, kwh = 0;
  const cumE = [], cumK = [];
  for (const t of times) {
    for (const p of d.purchases) if (p.t === t) elc += p.elecoins;
    for (const x of d.trades) if (x.t === t) kwh += x.kwh;
    cumE.push(elc); cumK.push(kwh);
  }
  const vs = [{ label: "elecoins bought", values: cumE, step: true, fmt: fmtElc }, { label: "electricity traded", values: cumK, step: true, axis: 2, fmt: fmtKwh }];
  if (eq.demand_total) vs.push({ label: "equilibrium demand (one round)", values: times.map(() => eq.demand_total), dash: true, color: "#2e8540", fmt: fmtElc });
  chart("m-volume", times, { title: "Elecoins bought and electricity traded (cumulative)", x: { label: "time (UTC)", time: true },
    y: { label: `elecoins (${SYM.elecoin})`, zero: true }, y2: { label: "energy (kWh)", zero: true, fmt: fmtKwh }, series: vs });
}

// ------------------------------------------------------------------ the community
function communityMap(day) {
  const W = 560, P = 36, area = day.area_km;
  const sx = x => P + (x / area) * (W - 2 * P), sy = y => W - P - (y / area) * (W - 2 * P);
  const pos = i => i < 0 ? day.edc_km : [day.prosumers[i].x, day.prosumers[i].y];
  let svg = `<svg viewBox="0 0 ${W} ${W}" role="img" aria-labelledby="maptitle mapdesc"><title id="maptitle">Map of the community's prosumers and coalitions</title><desc id="mapdesc">${day.prosumers.length} prosumers in a ${fmtNum(area, 1)} km square, coloured by coalition; lines are energy transfers (red between prosumers, grey with the distribution centre, EDC).</desc>`;
  for (let k = 0; k <= area + 1e-9; k += area / 4) {
    svg += `<line x1="${sx(k)}" y1="${sy(0)}" x2="${sx(k)}" y2="${sy(area)}" stroke="#eef1f4"/><line x1="${sx(0)}" y1="${sy(k)}" x2="${sx(area)}" y2="${sy(k)}" stroke="#eef1f4"/>`;
    svg += `<text x="${sx(k)}" y="${W - P + 16}" font-size="11" text-anchor="middle" fill="#4f5b67">${fmtNum(k, 1)}</text><text x="${P - 6}" y="${sy(k) + 4}" font-size="11" text-anchor="end" fill="#4f5b67">${fmtNum(k, 1)}</text>`;
  }
  svg += `<text x="${W / 2}" y="${W - 4}" font-size="11" text-anchor="middle" fill="#4f5b67">km</text>`;
  const maxE = Math.max(0.001, ...day.transactions.map(t => t.energy_kwh));
  for (const t of day.transactions) {
    const [a, b] = [pos(t.from), pos(t.to)];
    const p2p = t.from >= 0 && t.to >= 0;
    svg += `<line class="${p2p ? "flow-p2p" : "flow-edc"}" x1="${sx(a[0])}" y1="${sy(a[1])}" x2="${sx(b[0])}" y2="${sy(b[1])}" stroke-width="${(0.8 + 3 * t.energy_kwh / maxE).toFixed(2)}" stroke-opacity="0.75"><title>${esc(t.from < 0 ? "EDC" : "P" + t.from)} → ${esc(t.to < 0 ? "EDC" : "P" + t.to)}: ${esc(fmtKwh(t.energy_kwh))}</title></line>`;
  }
  svg += `<rect x="${sx(day.edc_km[0]) - 9}" y="${sy(day.edc_km[1]) - 9}" width="18" height="18" fill="#1d2733"><title>EDC (distribution centre)</title></rect><text x="${sx(day.edc_km[0]) + 12}" y="${sy(day.edc_km[1]) + 4}" font-size="12">EDC</text>`;
  for (const p of day.prosumers) {
    const c = day.coalitions[p.coalition];
    svg += `<circle class="c${p.coalition % 10}" cx="${sx(p.x)}" cy="${sy(p.y)}" r="${c && c.miner ? 10 : 8}" stroke="#1d2733" stroke-width="${c && c.miner ? 2.5 : 1}"><title>${esc(p.name)}${p.label ? " (" + esc(p.label) + ")" : ""}: coalition ${p.coalition + 1}; saved ${esc(p.saving_kwh == null ? "–" : fmtKwh(p.saving_kwh))}; reward ${esc(fmtKwh(p.reward_kwh))}</title></circle>`;
    svg += `<text x="${sx(p.x) + 11}" y="${sy(p.y) - 8}" font-size="12">${esc(p.name)}</text>`;
  }
  return svg + "</svg>";
}

async function community() {
  const r = await api("GET", "/api/dashboard/community");
  const day = r.day;
  if (!day) {
    show("c-map-status", `No community report yet in ${r.reports_dir}: ${r.how}.`, "info");
    noData("c-map", "No coalitions to show yet."); $("c-coalitions").innerHTML = "";
    return;
  }
  const t = day.totals;
  const nc = day.coalitions.length;
  show("c-map-status", `${day.prosumers.length} prosumers in ${nc} coalition${nc === 1 ? "" : "s"}${day.round ? `, recorded on chain as round ${day.round}` : " (not recorded on chain)"}: losses ${fmtKwh(t.loss_alone_kwh)} acting alone, ${fmtKwh(t.loss_coalition_kwh)} in coalitions (${fmtNum(t.savings_pct, 1)}% saved); mining reward ${fmtKwh(t.mining_reward_kwh)}.`, "ok");
  $("c-map").innerHTML = communityMap(day);
  const member = i => { const p = day.prosumers[i]; return p.address ? `<a href="/explorer/address/${esc(p.address)}">${esc(p.name)}</a>` : esc(p.name); };
  $("c-coalitions").innerHTML = table(["Coalition", "Members", "Proof score", "Loss saved", "Reward shared", "Role"], day.coalitions.map(c =>
    `<tr><td><span class="swatch c${c.index % 10}"></span>${c.index + 1}</td><td>${c.members.map(member).join(", ")}</td><td class="num">${c.proof_score == null ? "–" : esc(fmtNum(c.proof_score, 3))}</td><td class="num">${c.saving_kwh == null ? "–" : esc(fmtKwh(c.saving_kwh))}</td><td class="num">${esc(fmtKwh(c.reward_kwh))}</td><td>${c.miner ? `<span class="badge miner">miner</span>` : ""}${c.slashed ? `<span class="badge no">slashed</span>` : ""}</td></tr>`), "coalitions") +
    `<p class="hint">Loss saved: each member's line losses acting alone minus in its coalition (kWh). Reward: the mining reward's Shapley shares (kWh of energy credit, paid on chain in UPOS). Hover a prosumer or a line on the map for details.</p>`;
}

function roundsTable(rs, kind) {
  if (kind === "community") {
    return table(["Round", "Phase", "Miner", "Validators (stake behind each: its coalition's)", "Credited", "Slashed", "Reward", "Energy recorded"], rs.map(r =>
      `<tr><td>${r.round}</td><td>${esc(r.phase)}</td><td>${r.miner ? addrLink(r.miner) : "none"}</td><td>${r.validators.map(v => `${addrLink(v.address)} ${esc(fmtNum(v.stake, 3))} EPOS${v.slashed ? ` <span class="badge no">slashed</span>` : ""}`).join("<br>")}</td><td class="num">${esc(fmtNum(r.credited, 3))} EPOS</td><td class="num">${esc(fmtNum(r.slashed, 3))} EPOS</td><td class="num">${esc(fmtNum(r.reward, 4))} UPOS</td><td class="num">${esc(fmtKwh(r.traded_kwh))}</td></tr>`), "c-rounds-table");
  }
  return table(["Round", "Phase", "Miner (mLAG)", "EVs staking", "Proof scores staked", "Profits settled", "Fees to the miner"], rs.map(r =>
    `<tr><td>${r.round}</td><td>${esc(r.phase)}</td><td>${r.miner ? addrLink(r.miner) : "none"}</td><td class="num">${r.validators.length}</td><td class="num">${esc(fmtNum(r.credited, 3))} EPOS</td><td class="num">${r.settled ? esc(fmtCoin(r.profits)) : "not settled"}</td><td class="num">${r.settled ? esc(fmtCoin(r.fees)) : "–"}</td></tr>`), "f-rounds-table");
}

async function ledger() {
  const d = await api("GET", "/api/dashboard/ledger");
  if (d.community) {
    const c = d.community;
    show("c-status", `On chain: the latest ${c.rounds.length === 1 ? "round" : c.rounds.length + " rounds"}; ${fmtNum(c.upos_supply, 4)} UPOS of energy credit issued; a refusing miner loses ${fmtNum(c.slash_bps / 100, 2)}% of its coalition's stake.`, "ok");
    const rs = c.rounds.slice().reverse();
    chart("c-chart", rs.map(r => r.round), { title: "Per round on chain: reward and energy recorded", x: { label: "round", int: true, fmt: v => `round ${v}`, tick: v => String(v) },
      y: { label: "reward (UPOS)", zero: true, fmt: v => `${fmtNum(v, 4)} UPOS` }, y2: { label: "energy (kWh)", zero: true, fmt: fmtKwh },
      series: [{ label: "reward", values: rs.map(r => r.reward), bars: true }, { label: "energy recorded", values: rs.map(r => r.traded_kwh), axis: 2, points: true }], height: 220 });
    $("c-rounds").innerHTML = "<h3>Rounds on chain</h3>" + roundsTable(c.rounds, "community");
  } else { show("c-status", "No community round on this chain yet: gridledger community run --chain --data-dir DIR", "info"); $("c-chart").innerHTML = ""; }
  if (d.fleet) {
    const f = d.fleet;
    show("f-status", `On chain: the miner of a round (mLAG) earns ${fmtNum(f.beta_bps / 100, 2)}% of each EV's profit; ${fmtWei(f.held_wei)} held by the settlement contract.`, "ok");
    $("f-rounds").innerHTML = "<h3>Rounds on chain</h3>" + roundsTable(f.rounds, "fleet");
    const evNo = a => { const m = /^EV (\d+)$/.exec(labelOf(a) || ""); return m ? Number(m[1]) : 1e9; };
    const evs = f.evs.slice().sort((a, b) => evNo(a.address) - evNo(b.address));
    $("f-evs").innerHTML = "<h3>Each EV's standing</h3>" + table(["EV", "Profit held (fee deducted)", "Fees to collect", "Standing"], evs.map(e =>
      `<tr><td>${addrLink(e.address)}</td><td class="num">${esc(fmtWei(e.held_wei))}</td><td class="num">${esc(fmtWei(e.fees_credit_wei))}</td><td>${e.expires_after_block === null ? "all collected" : `uncollected: goes to the fleet's treasury after block ${esc(String(e.expires_after_block))}`}</td></tr>`), "f-evs-table");
  } else show("f-status", "No fleet settlement on this chain yet: gridledger v2v settle --model DIR --data-dir DIR", "info");
}

// ------------------------------------------------------------------ the fleet's day
async function fleet() {
  const r = await api("GET", "/api/dashboard/fleet");
  const f = r.fleet;
  if (!f) {
    show("f-day-status", `No fleet report yet in ${r.reports_dir}: ${r.how}.`, "info");
    noData("f-market", "No hourly market to show yet."); return;
  }
  const hourFmt = v => `${String(v).padStart(2, "0")}:00`;
  if (f.site_market) {
    show("f-day-status", `Day ${f.day + 1} of ${f.days} from ${f.source}.`, "ok");
    const hs = f.site_market.map(x => x.hour);
    chart("f-market", hs, { title: "Hourly site market (kWh per hour, all sites)", x: { label: "hour of the day", int: true, fmt: hourFmt, tick: v => String(v), range: [-0.5, 23.5] },
      y: { label: "energy (kWh)", zero: true, fmt: fmtKwh }, stacked: true,
      series: [{ label: "matched V2V", values: f.site_market.map(x => x.v2v_kwh), bars: true },
               { label: "V2B", values: f.site_market.map(x => x.v2b_kwh), bars: true },
               { label: "grid import", values: f.site_market.map(x => x.grid_import_kwh), bars: true },
               { label: "grid export", values: f.site_market.map(x => x.grid_export_kwh), bars: true }] });
  } else {
    show("f-day-status", `From ${f.source}. This report has no site market yet: matched V2V energy and grid import and export appear with the fleet's site-market report. Shown: what the EVs bought and sold at the V2V price each hour.`, "warn");
    const hs = f.ev_trades.map(x => x.hour);
    chart("f-market", hs, { title: "Energy the EVs bought and sold per hour (kWh; sales below zero)", x: { label: "hour of the day", int: true, fmt: hourFmt, tick: v => String(v), range: [-0.5, 23.5] },
      y: { label: "energy (kWh)", zero: true, fmt: fmtKwh },
      series: [{ label: "bought by EVs", values: f.ev_trades.map(x => x.bought_kwh), bars: true },
               { label: "sold by EVs", values: f.ev_trades.map(x => -x.sold_kwh), bars: true, fmt: v => fmtKwh(-v) }] });
  }
  const evName = e => e.label || `EV ${e.ev}`;
  if (f.soc.length) {
    const hours = [...new Set(f.soc.flatMap(s => s.hours))].sort((a, b) => a - b);
    chart("f-soc", hours, { title: "State of charge per EV", x: { label: "hour of the day", int: true, fmt: hourFmt, tick: v => String(v) }, y: { label: "state of charge (%)", zero: true, fmt: pct, tick: v => fmtNum(100 * v, 0) },
      series: f.soc.map(s => ({ label: evName(s), values: hours.map(h => { const k = s.hours.indexOf(h); return k < 0 ? null : s.soc[k]; }) })) });
  } else noData("f-soc", "No state-of-charge records in this report.");
  if (f.cash.length) {
    chart("f-cash", f.cash.map(c => c.ev), { title: `Cash per EV over the day (${SYM.native})`, x: { label: "EV", int: true, fmt: v => `EV ${v}`, tick: v => String(v), range: [-0.5, f.cash.length - 0.5] },
      y: { label: `cash (${SYM.native})`, zero: true, fmt: fmtCoin },
      series: [{ label: "cash (sold − bought, at the V2V price)", values: f.cash.map(c => c.cash_native), bars: true }] });
  } else noData("f-cash", "No cash records in this report.");
}

// ------------------------------------------------------------------ DMA-UBRL
async function learning() {
  const d = await api("GET", "/api/dashboard/elecoin");
  if (d.pending) { show("status", "Computing the learning curves (once; about ten seconds)…", "info"); setTimeout(() => learning().catch(e => show("status", e.message, "err")), 3000); return false; }
  if (d.unavailable) { show("status", `${d.unavailable}. The server computes them again when it restarts.`, "err"); return true; }
  show("status", "DMA-UBRL converges to the analytic equilibrium (dashed).", "ok");
  for (const [key, p] of [["u", "unified"], ["d", "discriminated"]]) {
    const r = d[p];
    const ap = Array.isArray(r.analytic.price) ? r.analytic.price : [r.analytic.price];
    const prices = p === "unified" ? r.prices.slice(0, 1) : r.prices;
    const series = prices.map((ys, i) => ({ label: p === "unified" ? "learned price" : `learned price, prosumer ${i + 1}`, values: ys }))
      .concat(ap.map((v, i) => ({ label: ap.length === 1 ? "analytic equilibrium" : `analytic, prosumer ${i + 1}`, values: r.episodes.map(() => v), dash: true, color: COLORS[(i + prices.length) % COLORS.length] })));
    chart(`${key}-price`, r.episodes, { title: "Unit elecoin price per episode (money per elecoin)", x: { label: "episode", fmt: v => `episode ${fmtNum(v, 0)}` }, y: { label: "price (money/ELC)" }, series });
    chart(`${key}-demand`, r.episodes, { title: "Elecoin demand per episode (ELC)", x: { label: "episode", fmt: v => `episode ${fmtNum(v, 0)}` }, y: { label: "demand (ELC)", zero: true },
      series: r.demands.map((ys, i) => ({ label: `prosumer ${i + 1}`, values: ys })) });
    $(`${key}-table`).innerHTML = table(["Solution", "Price (money/ELC)", "Edge server's utility", "Prosumers' utility"], [["analytic", r.analytic], ["DMA-UBRL", r.learned]].map(([n, o]) =>
      `<tr><td>${n}</td><td class="num">${esc(Array.isArray(o.price) ? o.price.map(x => fmtNum(x, 2)).join(", ") : fmtNum(o.price, 3))}</td><td class="num">${esc(fmtNum(o.server_utility, 2))}</td><td class="num">${esc(fmtNum(o.total_prosumer_utility, 2))}</td></tr>`));
  }
  return true;
}

(async () => {
  await header();
  await loadLabels();
  const run = (name, fn, status) => fn().catch(e => show(status, e.message, "err")).finally(() => done(name));
  run("market", liveMarket, "m-status");
  run("community", community, "c-map-status");
  run("ledger", ledger, "c-status");
  run("fleet", fleet, "f-day-status");
  learning().then(ok => { if (ok) done("elecoin"); else { pending.delete("elecoin"); if (!pending.size) ready(); } }).catch(e => { show("status", e.message, "err"); done("elecoin"); });
})();
