// The administrator's page (kept out of the HTML: the Content-Security-Policy allows no inline script).
let meters = [], wantMeter = null, generation = 0;
const val = id => $(id).value.trim();
const yesno = (ok, yes, no) => ok ? `<span class="badge yes">${yes}</span>` : `<span class="badge no">${no}</span>`;

function kindsFor(meterAddress) {
  const m = meters.find(x => x.meter === meterAddress);
  return m ? m.kinds : ["consumption"];
}

// The reading form offers what the meter's user may report: consumption always, generation only
// with the generation right (a consumption reading is the default for an ordinary prosumer).
function updateKinds() {
  const m = meters.find(x => x.meter === $("meter").value);
  const kinds = kindsFor($("meter").value);
  const preferred = m && m.gen_right && !m.trans_right ? "generation" : "consumption";
  $("kind").innerHTML = kinds.map(k => `<option value="${k}"${k === preferred ? " selected" : ""}>${k}</option>`).join("");
  $("kindhint").textContent = m ? (m.gen_right ? `${m.user_name} may generate: a generation reading adds to their available energy; consumption draws on it (${fmtKwh(m.avail_power_kwh)} available).`
                                               : `${m.user_name} has no generation right: only consumption can be reported (${fmtKwh(m.avail_power_kwh)} available).`) : "";
}

async function refresh() {
  const mine = ++generation;  // a slower, older refresh must not overwrite a newer one
  const me = await header();
  if (me && !me.roles.includes("admin")) show("rolemsg", "You are signed in without the administrator's role: you can look, but the chain refuses your changes.", "warn");
  else if (!me) show("rolemsg", "Sign in as the administrator to register users and meters.", "info");
  await loadLabels();
  const [m, ms] = await Promise.all([api("GET", "/api/market"), api("GET", "/api/meters")]);
  if (mine !== generation) return;
  meters = ms.meters.filter(x => x.active);
  const b = m.bounds;
  $("marketstate").innerHTML = `<div class="card"><div class="k">State</div><div class="v" id="paused">${m.paused ? "paused (no purchase, trade or reading)" : "open"}</div></div>
    <div class="card"><div class="k">Prices allowed</div><div class="v">${esc(b.display)}</div></div>
    <div class="card"><div class="k">Left in this slot</div><div class="v">${esc(b.slot_left_display)} <span class="hint">of ${esc(b.slot_supply_display)} per ${esc(fmtNum(b.slot_seconds / 60, 0))} min</span></div></div>
    <div class="card"><div class="k">Redemption price</div><div class="v">${esc(b.redemption_display)}</div></div>`;
  const rows = m.users.map(u => `<tr><td>${esc(u.name)}</td><td>${addrLink(u.address)}</td><td>${yesno(u.trans_right, "trade", "no trade")} ${yesno(u.gen_right, "generate", "no generation")}</td><td class="num">${esc(fmtKwh(u.avail_power_kwh))}</td><td class="num">${esc(fmtElc(u.elecoins))}</td><td>${u.meters.map(addrLink).join(" ") || "–"}</td><td><button type="button" class="small secondary" data-edit="${esc(u.address)}">Edit rights</button></td></tr>`);
  $("users").innerHTML = rows.length ? table(["Name", "Address", "Rights", "Energy available", "Elecoins", "Meters", "Change"], rows, "usertable")
                                     : emptyState("No user registered yet: register the first one below.");
  for (const b of document.querySelectorAll("[data-edit]")) {
    b.onclick = () => {
      const u = m.users.find(x => x.address === b.dataset.edit);
      $("address").value = u.address; $("uname").value = u.name; $("gen").checked = u.gen_right; $("trans").checked = u.trans_right;
      $("address").focus();
    };
  }
  const keepUser = $("meteruser").value;
  $("meteruser").innerHTML = m.users.map(u => `<option value="${esc(u.address)}">${esc(u.name)} (${esc(short(u.address))})</option>`).join("");
  if (keepUser) $("meteruser").value = keepUser;
  const keepMeter = wantMeter || $("meter").value;
  $("meter").innerHTML = meters.map(x => `<option value="${esc(x.meter)}">${esc(short(x.meter))} – ${esc(x.user_name)}</option>`).join("");
  if (keepMeter && meters.some(x => x.meter === keepMeter)) $("meter").value = keepMeter;
  updateKinds();
  $("meters").innerHTML = ms.meters.length ? table(["Meter", "User", "User's rights", "Rated power", "May report"], ms.meters.map(x => `<tr><td>${addrLink(x.meter)}</td><td>${esc(x.user_name || "")}</td><td>${yesno(x.trans_right, "trade", "no trade")} ${yesno(x.gen_right, "generate", "no generation")}</td><td class="num">${esc(fmtNum(x.rated_kw, 3))} kW</td><td>${x.active ? esc(x.kinds.join(", ")) : "revoked"}</td></tr>`), "metertable")
                                           : emptyState("No meter registered yet.");
  ready();
}
const run = (msg, fn, done) => async () => {
  try { const r = await fn(); show(msg, done(r), "ok"); refresh(); } catch (e) { show(msg, e.message, "err"); }
};
$("empower").onclick = run("usermsg", () => api("POST", "/api/admin/users", { address: val("address"), user_name: val("uname"), gen_right: $("gen").checked, trans_right: $("trans").checked }),
                           r => `Registered ${val("uname")} (transaction ${r.tx_hash.slice(0, 10)}…).`);
$("rights").onclick = run("usermsg", () => api("POST", "/api/admin/rights", { address: val("address"), gen_right: $("gen").checked, trans_right: $("trans").checked }),
                          r => `Rights changed (transaction ${r.tx_hash.slice(0, 10)}…).`);
$("addmeter").onclick = async () => {
  try {
    const r = await api("POST", "/api/admin/meters", { user: val("meteruser"), rated_kw: Number(val("ratedkw")) });
    wantMeter = r.meter;  // the reading form switches to the new meter
    await refresh();
    show("metermsg", `Meter ${r.meter} registered for ${$("meteruser").selectedOptions[0].textContent}.`, "ok");
  } catch (e) { show("metermsg", e.message, "err"); }
};
$("meter").onchange = () => { wantMeter = $("meter").value; updateKinds(); };
$("report").onclick = run("readmsg", () => api("POST", "/api/admin/readings", { meter: val("meter"), kind: val("kind"), energy_kwh: Number(val("readkwh")) }),
                          r => `Reading recorded (transaction ${r.tx_hash.slice(0, 10)}…).`);
refresh();
