// The server page (kept out of the HTML: the Content-Security-Policy allows no inline script).
async function refresh() {
  await header();
  try {
    const s = await api("GET", "/api/server/sales");
    document.getElementById("proceeds").textContent = `proceeds to withdraw: ${(Number(s.proceeds_wei) / 1e18).toFixed(6)}`;
    document.getElementById("sales").innerHTML = "<tr><th>block</th><th>prosumer</th><th>elecoins</th><th>paid (coin)</th><th>tx</th></tr>" +
      s.sales.map(x => `<tr><td>${x.block}</td><td>${addrLink(x.prosumer)}</td><td>${x.elecoins}</td><td>${(Number(x.paid_wei) / 1e18).toFixed(6)}</td><td>${txLink(x.tx)}</td></tr>`).join("");
  } catch (e) { document.getElementById("proceeds").textContent = e.message; }
}
document.getElementById("declare").onclick = async () => {
  const prosumer = document.getElementById("prosumer").value.trim();
  const body = { price: Number(document.getElementById("price").value) };
  if (prosumer) body.prosumer = prosumer;
  try { const r = await api("POST", "/api/server/price", body); show("pricemsg", "declared: " + r.tx_hash, "ok"); } catch (e) { show("pricemsg", e.message, "err"); }
};
document.getElementById("withdraw").onclick = async () => { try { const r = await api("POST", "/api/server/withdraw"); show("wmsg", "withdrawn: " + r.tx_hash, "ok"); refresh(); } catch (e) { show("wmsg", e.message, "err"); } };
refresh();
