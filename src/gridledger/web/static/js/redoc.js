// ReDoc for /redoc, from the vendored standalone bundle (no CDN, no web fonts).
Redoc.init("/openapi.json", { disableSearch: false }, document.getElementById("redoc"));
