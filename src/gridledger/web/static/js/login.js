// The sign-in page (kept out of the HTML: the Content-Security-Policy allows no inline script).
header().then(ready);
$("login").onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("POST", "/api/auth/login", { name: $("name").value, password: $("password").value });
    show("loginmsg", `Signed in as ${r.name} (${r.address}).`, "ok");
    location.href = r.roles.includes("admin") ? "/admin" : r.roles.includes("edge_server") ? "/server" : "/portal";
  } catch (e) { show("loginmsg", e.message, "err"); }
};
$("signup").onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("POST", "/api/accounts", { name: $("newname").value, password: $("newpassword").value });
    show("signupmsg", `Created ${r.name}. Sign in, then share your address with the administrator to be registered: ${r.address}`, "ok");
  } catch (e) { show("signupmsg", e.message, "err"); }
};
