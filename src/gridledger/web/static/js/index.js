// The index page (kept out of the HTML: the Content-Security-Policy allows no inline script).
header(); api("GET", "/api/health").then(h => show("health", `${h.backend} chain ${h.chain_id}, block ${h.block_number}, ETSC ${h.etsc}`));
