// The home page (kept out of the HTML: the Content-Security-Policy allows no inline script).
header();
api("GET", "/api/health").then(h => { show("health", `Connected: ${h.backend} chain ${h.chain_id}, block ${h.block_number}; market contract (ETSC) ${h.etsc}.`, "ok"); ready(); })
  .catch(e => { show("health", e.message, "err"); ready(); });
