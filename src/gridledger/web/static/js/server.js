// The edge server's page (kept out of the HTML: the Content-Security-Policy allows no inline script).
let weiPerMoney = 1e15, filled = false;

async function refresh() {
  const me = await header();
  await loadLabels();
  for (const el of document.querySelectorAll(".sym-native")) el.textContent = SYM.native;
  if (!me) { show("rolemsg", "Sign in with an edge server's account to declare prices and see sales.", "info"); ready(); return; }
  if (!me.roles.includes("edge_server")) { show("rolemsg", "This account is not an edge server: the chain refuses its prices.", "warn"); }
  try {
    const [s, m] = await Promise.all([api("GET", "/api/server/sales"), api("GET", "/api/market")]);
    weiPerMoney = Number(s.wei_per_money);
    const current = Number(s.uniform_price_wei) / 1e18;
    if (!filled && current > 0) { $("price").value = Number(current.toPrecision(8)); filled = true; }
    $("prosumer").innerHTML = `<option value="">every prosumer (uniform price)</option>` + m.users.filter(u => u.trans_right).map(u => `<option value="${esc(u.address)}">${esc(u.name)} (${esc(short(u.address))})</option>`).join("");
    $("current").innerHTML = `<div class="card"><div class="k">Current uniform price</div><div class="v" id="curprice">${esc(s.uniform_price_display)}</div></div>
      <div class="card"><div class="k">1 kWh at this price</div><div class="v">${current ? esc(fmtCoin(current * m.unit_power_price_elecoins_per_kwh)) : "–"}</div></div>
      <div class="card"><div class="k">Elecoins you may still sell</div><div class="v">${esc(s.allocation_left_display)}</div></div>`;
    const lo = Number(s.bounds.min_price_wei) / 1e18, hi = Number(s.bounds.max_price_wei) / 1e18;
    $("price").min = lo; $("price").max = hi;
    $("pricehint").textContent = `The market accepts prices from ${s.bounds.display}.${m.paused ? " The market is paused: nobody can buy until it is resumed." : ""}`;
    $("personal").innerHTML = s.personal_prices.length ? "<h3>Personal prices</h3>" + table(["Prosumer", "Price"], s.personal_prices.map(p => `<tr><td>${addrLink(p.prosumer)}</td><td class="num">${esc(p.price_display)}</td></tr>`)) : "";
    $("proceeds").innerHTML = `<div class="card"><div class="k">Proceeds to withdraw</div><div class="v" id="proceedsv">${esc(s.proceeds_display)}</div></div>
      <div class="card"><div class="k">Elecoins sold</div><div class="v">${esc(fmtElc(s.series.length ? s.series[s.series.length - 1].elecoins : 0))}</div></div>
      <div class="card"><div class="k">Paid by buyers in total</div><div class="v">${esc(fmtCoin(s.series.length ? s.series[s.series.length - 1].paid : 0))}</div></div>
      <div class="card"><div class="k">Your proceeds in total</div><div class="v">${esc(fmtCoin(s.series.length ? s.series[s.series.length - 1].proceeds : 0))}</div></div>
      <p class="hint">Your proceeds are the payments minus ${esc(s.redemption_price_display)} per elecoin sold: the market keeps that part to pay back retailers who redeem elecoins.</p>`;
    $("withdrawals").innerHTML = s.withdrawals.length ? "<h3>Withdrawals</h3>" + table(["Time (UTC)", "Amount", "Transaction"], s.withdrawals.map(w => `<tr>${timeCell(w.timestamp)}<td class="num">${esc(w.amount_display)}</td><td>${txLink(w.tx)}</td></tr>`)) : "";
    $("sales").innerHTML = s.sales.length ? table(["Time (UTC)", "Prosumer", "Elecoins", "Paid", "Your proceeds", "Price", "Transaction"], s.sales.map(x => `<tr>${timeCell(x.timestamp)}<td>${addrLink(x.prosumer)}</td><td class="num">${esc(x.elecoins_display)}</td><td class="num">${esc(x.paid_display)}</td><td class="num">${esc(x.proceeds_display)}</td><td class="num">${esc(x.price_display)}</td><td>${txLink(x.tx)}</td></tr>`), "salestable")
                                          : emptyState("No sales yet.");
    if (s.series.length) {
      chart("saleschart", s.series.map(x => x.timestamp), { title: "Elecoins sold, payments and proceeds (cumulative)", x: { label: "time (UTC)", time: true },
        y: { label: `elecoins sold (${SYM.elecoin})`, zero: true, fmt: fmtElc }, y2: { label: `coin (${SYM.native})`, zero: true, fmt: fmtCoin },
        series: [{ label: "elecoins sold", values: s.series.map(x => x.elecoins), step: true },
                 { label: "paid by buyers", values: s.series.map(x => x.paid), axis: 2, step: true, dash: true },
                 { label: "your proceeds", values: s.series.map(x => x.proceeds), axis: 2, step: true }] });
    } else noData("saleschart", "No sales yet: the chart starts with the first purchase.");
  } catch (e) { show("rolemsg", e.message, "err"); }
  ready();
}
$("declare").onclick = async () => {
  const prosumer = $("prosumer").value;
  const perElc = Number($("price").value);
  // The API takes the market's money per elecoin (1 money = wei_per_money wei): convert from coin.
  const body = { price: Number((perElc * 1e18 / weiPerMoney).toPrecision(12)) };
  if (prosumer) body.prosumer = prosumer;
  try {
    const r = await api("POST", "/api/server/price", body);
    show("pricemsg", `Declared ${fmtNum(perElc, 8)} ${SYM.native}/${SYM.elecoin}${prosumer ? " for " + (labelOf(prosumer) || short(prosumer)) : ""} (transaction ${r.tx_hash.slice(0, 10)}…).`, "ok");
    refresh();
  } catch (e) { show("pricemsg", e.message, "err"); }
};
$("withdraw").onclick = async () => {
  try { const r = await api("POST", "/api/server/withdraw"); show("wmsg", `Withdrawn (transaction ${r.tx_hash.slice(0, 10)}…).`, "ok"); refresh(); }
  catch (e) { show("wmsg", e.message, "err"); }
};
refresh();
