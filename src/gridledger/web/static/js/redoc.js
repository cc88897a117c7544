// ReDoc for /redoc, from the vendored standalone module (no CDN, no web fonts, telemetry off).
import { init } from "/static/vendor/redoc/redoc.standalone.js";

init("/openapi.json", { disableTelemetry: true }, document.getElementById("redoc"));
