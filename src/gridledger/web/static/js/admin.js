// The admin page (kept out of the HTML: the Content-Security-Policy allows no inline script).
async function refresh() {
  await header();
  const m = await api("GET", "/api/market");
  document.getElementById("users").innerHTML = "<tr><th>name</th><th>address</th><th>generate</th><th>trade</th></tr>" +
    m.users.map(u => `<tr><td>${esc(u.name)}</td><td>${addrLink(u.address)}</td><td>${u.gen_right}</td><td>${u.trans_right}</td></tr>`).join("");
}
const val = id => document.getElementById(id).value.trim();
const run = (msg, fn) => async () => { try { const r = await fn(); show(msg, "done: " + (r.tx_hash || r.meter || JSON.stringify(r)), "ok"); refresh(); } catch (e) { show(msg, e.message, "err"); } };
document.getElementById("empower").onclick = run("usermsg", () => api("POST", "/api/admin/users", { address: val("address"), user_name: val("uname"), gen_right: document.getElementById("gen").checked, trans_right: document.getElementById("trans").checked }));
document.getElementById("rights").onclick = run("usermsg", () => api("POST", "/api/admin/rights", { address: val("address"), gen_right: document.getElementById("gen").checked, trans_right: document.getElementById("trans").checked }));
document.getElementById("addmeter").onclick = async () => { try { const r = await api("POST", "/api/admin/meters", { user: val("meteruser") }); document.getElementById("meter").value = r.meter; show("metermsg", "meter " + r.meter, "ok"); } catch (e) { show("metermsg", e.message, "err"); } };
document.getElementById("report").onclick = run("readmsg", () => api("POST", "/api/admin/readings", { meter: val("meter"), kind: val("kind"), energy_kwh: Number(val("readkwh")) }));
refresh();
