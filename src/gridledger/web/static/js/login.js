// The login page (kept out of the HTML: the Content-Security-Policy allows no inline script).
header();
document.getElementById("login").onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("POST", "/api/auth/login", { name: document.getElementById("name").value,
                                                     password: document.getElementById("password").value });
    show("loginmsg", `signed in as ${r.name} (${r.address})`, "ok");
    location.href = r.roles.includes("admin") ? "/admin" : r.roles.includes("edge_server") ? "/server" : "/portal";
  } catch (e) { show("loginmsg", e.message, "err"); }
};
document.getElementById("signup").onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("POST", "/api/accounts", { name: document.getElementById("newname").value,
                                                   password: document.getElementById("newpassword").value });
    show("signupmsg", `created ${r.name}: ${r.address}`, "ok");
  } catch (e) { show("signupmsg", e.message, "err"); }
};
