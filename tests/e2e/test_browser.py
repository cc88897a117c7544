"""End-to-end in a real browser (Debian chromium, headless, driven by Playwright) on a chain laid out
like `gridledger demo`'s (its elecoin market, a community day and a fleet's settlement, with their
reports): a user signs up, is registered, buys elecoins and electricity and reads the result in
the portal, the explorer and the dashboards; users without the right role get sentences; every
page runs under the CSP, passes axe-core (no serious or critical violation) and fits a 375-px phone.

Screenshots go to test-artifacts/e2e/ (the portal after a trade, the token page, a transaction
page, a failed transaction, the community map, the fleet's market and every page at phone size)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from webapp import admin_signer, demo_chain, make_app

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync"]
PAGES = ("/", "/login", "/portal", "/admin", "/server", "/explorer", "/explorer/tokens", "/dashboard")


@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    data = demo_chain(root, days=2, prosumers=8)
    return make_app(data)


@pytest.fixture(scope="module")
def server(web_app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(web_app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline, "the web server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is needed (make test installs it with apt-get)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def watch(page):
    """Collect what the page's console and network show: CSP violations, errors, requests."""
    seen = {"console": [], "requests": []}
    page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen["console"].append(f"pageerror: {e}"))
    page.on("request", lambda r: seen["requests"].append(r.url))
    return seen


def shot(page, name, selector=None):
    path = str(ARTIFACTS / f"{name}.png")
    if selector:
        page.locator(selector).screenshot(path=path)
    else:
        page.screenshot(path=path, full_page=True)


def ready(page, timeout=60_000):
    """The page's scripts mark the body when every panel has been drawn from the API."""
    page.locator("body[data-ready='1']").wait_for(timeout=timeout)


def axe(page, where):
    """axe-core on the page as it is (injected through the DevTools protocol, as a test harness
    does: the page's own CSP stays as served); no serious or critical violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => "
                          "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => "
                          "n.target.join(' '))})))")
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, (where, json.dumps(bad, indent=1))
    return found


def sign_up(page, base, name):
    page.goto(f"{base}/login")
    page.fill("#newname", name)
    page.fill("#newpassword", f"{name}-password")
    page.click("#create")
    page.wait_for_selector("#signupmsg.ok")
    return page.text_content("#signupmsg").split(": ")[-1].strip()


def sign_in(page, base, name, password):
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#signin")
    page.wait_for_load_state("networkidle")
    # Locator waits, not wait_for_function: the pages' CSP forbids the eval a string predicate needs.
    signed_in = page.locator("#who", has_text=name).or_(page.locator("#loginmsg.err"))
    signed_in.first.wait_for()
    assert page.locator("#loginmsg.err").count() == 0, page.text_content("#loginmsg")  # refused: say why


@pytest.mark.seed_sensitive
def test_full_flow_in_the_browser(server, browser, web_app):
    from playwright.sync_api import expect

    base = server
    visitor = browser.new_context().new_page()
    alice = sign_up(visitor, base, "alice")
    bob = sign_up(visitor, base, "bob")
    carol = sign_up(visitor, base, "carol")
    shot(visitor, "01-login-signup")

    # A new account is told what to do next.
    newcomer = browser.new_context().new_page()
    sign_in(newcomer, base, "alice", "alice-password")
    ready(newcomer)
    assert "not registered in the market yet" in newcomer.text_content("#next")
    assert newcomer.text_content("#myaddress") == alice
    shot(newcomer, "02-portal-new-account")

    admin = browser.new_context().new_page()
    sign_in(admin, base, "admin", "dev-admin-password")
    assert admin.url.endswith("/admin")
    for address, name, gen, trans in ((alice, "alice", False, True), (bob, "bob", True, False)):
        admin.fill("#address", address)
        admin.fill("#uname", name)
        admin.set_checked("#gen", gen)
        admin.set_checked("#trans", trans)
        admin.click("#empower")
        admin.wait_for_selector("#usermsg.ok")
    ready(admin)
    assert admin.text_content("#paused") == "open"
    assert "0.02 ETH/ELC to 0.11 ETH/ELC" in admin.text_content("#marketstate")  # the ETSC's price bounds
    for user, name in ((bob, "bob"), (alice, "alice")):
        admin.locator(f"#meteruser option[value='{user}']").wait_for(state="attached")
        admin.select_option("#meteruser", user)
        admin.fill("#ratedkw", "7.5" if user == bob else "10")
        admin.click("#addmeter")
        admin.locator("#metermsg.ok", has_text=f"registered for {name}").wait_for()
        # the reading form defaults to what the meter's user may report
        expect(admin.locator("#kind")).to_have_value("consumption" if user == alice else "generation")
        if user == alice:
            assert admin.locator("#kind option").all_text_contents() == ["consumption"]
        else:
            admin.fill("#readkwh", "5")
            admin.click("#report")
            admin.wait_for_selector("#readmsg.ok, #readmsg.err")
            assert "ok" in admin.get_attribute("#readmsg", "class"), admin.text_content("#readmsg")
    admin.locator("#usertable", has_text="bob").wait_for()
    admin.locator("#usertable", has_text="meter of alice").wait_for()  # meters by their label
    assert "7.5 kW" in admin.text_content("#metertable")  # bob's meter, as registered
    shot(admin, "03-admin")

    edge = browser.new_context().new_page()
    sign_in(edge, base, "edge-server-1", "dev-admin-password")
    assert edge.url.endswith("/server")
    ready(edge)
    current = web_app.state.gl.etsc.contract.functions.uniformPrice(web_app.state.gl.etsc.edge_servers()[0]).call()
    assert float(edge.input_value("#price")) == pytest.approx(current / 1e18)  # the current price, not a constant
    edge.fill("#price", "0.0822")
    edge.click("#declare")
    edge.wait_for_selector("#pricemsg.ok")
    edge.locator("#curprice", has_text="0.0822 ETH/ELC").wait_for()
    assert edge.get_attribute("#price", "min") == "0.02" and edge.get_attribute("#price", "max") == "0.11"
    assert "0.02 ETH/ELC to 0.11 ETH/ELC" in edge.text_content("#pricehint")
    assert edge.locator("#saleschart canvas").count() >= 1
    shot(edge, "04-edge-server")

    page = browser.new_context().new_page()
    sign_in(page, base, "alice", "alice-password")
    assert page.url.endswith("/portal")
    ready(page)
    assert "Next: buy elecoins" in page.text_content("#next")
    page.fill("#elecoins", "2")
    expect(page.locator("#buycost")).to_have_text(re.compile(r"2 ELC will cost about 0\.1644 ETH at 0\.0822 ETH/ELC"))
    page.click("#buy")
    page.wait_for_selector("#buymsg.ok")
    expect(page.locator("#balance")).to_have_text("2 ELC")
    page.select_option("#retailer", bob)
    page.fill("#kwh", "1")
    expect(page.locator("#tradecost")).to_contain_text("1 kWh costs 0.6 ELC (0.6 ELC/kWh); you hold 2 ELC")
    page.click("#check")
    page.wait_for_selector("#trademsg.ok")
    assert "will cost 0.6 ELC" in page.text_content("#trademsg")
    page.click("#trade")
    page.wait_for_selector("#tradetx")
    expect(page.locator("#power")).to_have_text("1 kWh")
    page.locator("#historytable", has_text="Bought 1 kWh of electricity from bob for 0.6 ELC").wait_for()
    assert "Bought 2 ELC from edge server 1 for 0.1644 ETH" in page.text_content("#historytable")
    assert page.get_attribute("#csv", "href") == f"/api/accounts/{alice}/history.csv"
    assert page.locator("#energychart canvas").count() >= 1
    ready(page)
    shot(page, "05-portal-after-trade")

    page.click("#tradetx")
    page.wait_for_selector("#events")
    ready(page)
    assert page.text_content("#call") == "ETSC.trade"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page.text_content("#time"))
    assert re.match(r"0\.0000\d+ ETH = [\d,]+ gas × 1 gwei", page.text_content("#fee"))
    assert page.text_content("#nonce") == "1"
    events = page.text_content("#events")
    assert "Elecoin (ELC)" in events and "Traded" in events and "energyWh: 1 kWh" in events
    assert "0.6 ELC" in page.text_content("#transfers")
    shot(page, "06-explorer-tx")

    page.goto(f"{base}/explorer/tokens")
    ready(page)
    page.click("text=Elecoin (ELC)")
    page.wait_for_selector("#holders")
    ready(page)
    assert page.text_content("#supply") == "1,000,000 ELC"
    holders = page.text_content("#holders")
    assert "alice1.4 ELC" in holders and "bob0.6 ELC" in holders  # 2 ELC bought, 0.6 ELC paid to bob for 1 kWh
    assert "0.6 ELC" in page.text_content("#token-transfers")  # alice's payment for the kWh
    shot(page, "07-explorer-token")

    edge.click("#withdraw")
    edge.wait_for_selector("#wmsg.ok")
    wtx = edge.locator("#withdrawals a.mono").first.get_attribute("href")
    page.goto(f"{base}{wtx}")
    page.wait_for_selector("#moves")
    assert "ETSC" in page.text_content("#moves") and "edge server 1" in page.text_content("#moves")
    shot(page, "08-explorer-value-moved")

    page.goto(f"{base}/explorer")
    ready(page)
    page.fill("#q", "alice")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Transactions (")
    ready(page)
    shot(page, "09-explorer-address")

    # Users without the role are refused with a sentence, and nothing happens.
    intruder = browser.new_context().new_page()
    sign_in(intruder, base, "carol", "carol-password")
    ready(intruder)
    intruder.fill("#elecoins", "1")
    intruder.click("#buy")
    intruder.wait_for_selector("#buymsg.err")
    msg = intruder.text_content("#buymsg")
    assert "Your account" in msg and "is not registered in the market yet" in msg and "(ETSCNotRegistered)" in msg
    shot(intruder, "10-refused-with-a-sentence")
    intruder.goto(f"{base}/admin")
    ready(intruder)
    intruder.fill("#address", carol)
    intruder.fill("#uname", "carol")
    intruder.click("#empower")
    intruder.wait_for_selector("#usermsg.err")
    assert "admin role" in intruder.text_content("#usermsg")
    anonymous = browser.new_context().new_page()
    anonymous.goto(f"{base}/portal")
    anonymous.wait_for_selector("#who a")
    anonymous.click("#buy")
    anonymous.wait_for_selector("#buymsg.err")
    assert "sign in" in anonymous.text_content("#buymsg")
    shot(anonymous, "11-anonymous")


def test_a_paused_market_is_announced_and_its_refusal_is_a_sentence(server, browser, web_app):
    """The guardian pauses the market: the portal says so, and a purchase is refused with a
    sentence; the administrator resumes it."""
    from gridledger.ledger.accounts import open_vault
    from gridledger.ledger.deploy import load_deployment

    gl = web_app.state.gl
    page = browser.new_context().new_page()
    dora = sign_up(page, base=server, name="dora")
    vault = open_vault(gl.settings.data_dir)
    with gl.lock:
        guardian = vault.find(load_deployment(gl.chain, gl.settings.data_dir).guardian, gl.chain.chain_id)
        gl.etsc.empower(admin_signer(gl), "dora", dora, False, True)
        gl.etsc.pause(guardian)
    try:
        sign_in(page, server, "dora", "dora-password")
        ready(page)
        page.locator("#pausedmsg", has_text="The market is paused").wait_for()
        page.fill("#elecoins", "1")
        page.click("#buy")
        page.wait_for_selector("#buymsg.err")
        assert "paused" in page.text_content("#buymsg") and "Wait until it is resumed" in page.text_content("#buymsg")
        shot(page, "19-portal-market-paused")
    finally:
        with gl.lock:
            gl.etsc.unpause(admin_signer(gl))
    page.reload()
    ready(page)
    assert page.text_content("#pausedmsg") == ""


def test_failed_transaction_shows_its_revert_reason(server, browser, web_app):
    from eth_account import Account

    gl = web_app.state.gl
    stranger = gl.chain.dev_signers()[7]
    data = gl.etsc.contract.encode_abi("trade", args=[Account.create().address, 1000])
    with gl.lock, pytest.raises(Exception):  # noqa: B017 - mined with status 0 (no preflight)
        gl.chain.transact(stranger, gl.etsc.address, data, preflight=False)
    gl.index.sync()
    failed = gl.index._q("SELECT hash FROM txs WHERE status = 0 ORDER BY block DESC LIMIT 1")[0]["hash"]
    page = browser.new_context().new_page()
    page.goto(f"{server}/explorer/tx/{failed}")
    page.wait_for_selector("#revert")
    ready(page)
    assert page.text_content("#status") == "failed"
    assert "is not registered in the market yet" in page.text_content("#revert")
    assert "ETSCNotRegistered" in page.text_content("#revert")
    shot(page, "12-explorer-failed-tx")


@pytest.mark.seed_sensitive
def test_dashboards_show_the_market_the_community_map_and_the_fleet(server, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{server}/dashboard")
    ready(page)
    page.wait_for_selector("#m-status.ok")
    assert "equilibrium 0.082198 ETH/ELC" in page.text_content("#m-status")
    assert page.locator("#m-price canvas").count() >= 1 and page.locator("#m-volume canvas").count() >= 1
    assert "Stackelberg equilibrium" in page.text_content("#m-price")  # the legend
    assert "(ETH per ELC)" in page.text_content("#m-price .chart-title")  # the unit (axes are drawn on the canvas)
    page.wait_for_selector("#c-map-status.ok")
    assert page.locator("#c-map svg circle").count() == 8  # one per prosumer
    assert "recorded on chain as round 1" in page.text_content("#c-map-status")
    assert page.locator("#coalitions tbody tr").count() >= 1 and "miner" in page.text_content("#coalitions")
    page.wait_for_selector("#c-status.ok")
    shot(page, "13-dashboard-community-map", "#community")
    page.wait_for_selector("#f-day-status.ok")  # the fleet's evaluation: its hourly site market
    assert "Hourly site market" in page.text_content("#f-market .chart-title")
    legend = page.text_content("#f-market .u-legend")
    assert all(name in legend for name in ("matched V2V", "grid import", "grid export"))
    assert page.locator("#f-market canvas").count() == 1 and page.locator("#f-soc canvas").count() == 1
    assert page.locator("#f-cash canvas").count() == 1
    assert "EV 0" in page.text_content("#f-soc")
    page.wait_for_selector("#f-status.ok")
    assert page.locator("#f-rounds-table tbody tr").count() == 2  # rounds 2 and 1
    standing = page.text_content("#f-evs-table")
    # The fee was deducted at settlement: the selfish EV 0 never collected its net profit (it goes
    # to the treasury after the claim window); the honest EVs were paid out.
    assert standing.count("uncollected: goes to the fleet's treasury after block") == 1
    assert standing.count("all collected") == 2
    assert "reward (UPOS)" not in page.text_content("#fleet")
    shot(page, "14-dashboard-fleet-market", "#fleet")
    page.wait_for_selector("#status.ok", timeout=120_000)
    assert page.locator("#u-price canvas").count() == 1
    # a tooltip shows the values under the cursor
    over = page.locator("#m-price .u-over")
    box = over.bounding_box()
    over.hover(position={"x": box["width"] * 0.9, "y": box["height"] / 2})
    page.locator("#m-price .chart-tip").wait_for()
    assert "ETH/ELC" in page.text_content("#m-price .chart-tip")
    shot(page, "15-dashboard")


def test_the_fleets_site_market_when_its_report_has_one(server, browser, web_app, tmp_path):
    """A report in the format of the fleet's site market (per hour: matched V2V energy, V2B, grid
    import and export; per EV: cash and SOC by hour), built here, is drawn as the hourly market."""
    hours = [{"hour": h, "site": site, "v2v_kwh": v, "v2b_kwh": 0.2 * v, "grid_import_kwh": imp,
              "grid_export_kwh": exp} for h, site, v, imp, exp in
             ((7, "A", 4.0, 1.5, 0.0), (8, "A", 6.0, 0.5, 0.0), (8, "B", 2.0, 0.0, 1.0), (12, "A", 1.0, 0.0, 3.0),
              (18, "A", 5.0, 2.5, 0.0), (19, "B", 3.0, 4.0, 0.0))]
    evs = [{"ev": i, "cash": 0.8 - 0.3 * i, "soc_by_hour": [None] * 6 + [0.3 + 0.1 * i + 0.02 * h for h in range(12)]
            + [None] * 6} for i in range(4)]
    (tmp_path / "v2v").mkdir()
    (tmp_path / "v2v" / "results.json").write_text(json.dumps({"days": [{"day": 0, "hours": hours, "evs": evs}]}))
    settings = web_app.state.gl.settings
    before = settings.reports_dir
    settings.reports_dir = tmp_path
    try:
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(f"{server}/dashboard")
        ready(page)
        page.wait_for_selector("#f-day-status.ok")
        assert "Hourly site market" in page.text_content("#f-market .chart-title")
        legend = page.text_content("#f-market .u-legend")
        for name in ("matched V2V", "V2B", "grid import", "grid export"):
            assert name in legend
        shot(page, "14b-dashboard-fleet-site-market", "#fleet")
    finally:
        settings.reports_dir = before


def test_pages_run_under_the_csp_pass_axe_and_docs_work_offline(server, browser):
    """Every page's scripts are allowed by the Content-Security-Policy (no violation, no script
    error), axe-core finds no serious or critical violation; /docs and /redoc render from local
    assets only."""
    page = browser.new_context().new_page()
    seen = watch(page)
    sign_in(page, server, "admin", "dev-admin-password")
    tx = page.evaluate("fetch('/api/explorer/blocks').then(r => r.json())")["transactions"][0]
    for path in (*PAGES, f"/explorer/tx/{tx['hash']}", f"/explorer/block/{tx['block']}",
                 f"/explorer/address/{tx['sender']}"):
        page.goto(f"{server}{path}")
        ready(page)
        axe(page, path)
    tokens = page.evaluate("fetch('/api/explorer/tokens').then(r => r.json())")["tokens"]
    assert {t["symbol"] for t in tokens} == {"ELC", "EPOS", "UPOS"}  # the demo chain's community day
    for t in tokens:
        page.goto(f"{server}/explorer/token/{t['address']}")
        ready(page)
        assert page.text_content("#supply").endswith(t["symbol"])
        axe(page, f"token page {t['symbol']}")
        if t["symbol"] == "EPOS":
            assert "current round" in page.text_content("#token-note")
            shot(page, "07b-explorer-token-epos")
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
    assert "gridledger" in page.text_content(".swagger-ui .info .title")
    page.get_by_text("/api/buy", exact=True).first.wait_for()
    shot(page, "16-docs")
    page.goto(f"{server}/redoc")
    page.wait_for_selector("text=Prosumer portal, blockchain explorer", timeout=60_000)
    shot(page, "17-redoc")
    violations = [m for m in seen["console"] if "Content Security Policy" in m or "pageerror" in m]
    assert not violations, violations
    assert seen["requests"] and all(u.startswith(server) or u.startswith(("data:", "blob:"))
                                    for u in seen["requests"]), [u for u in seen["requests"] if not
                                                                  u.startswith(server)]


def test_phone_layout(server, browser):
    """On a 375-px phone nothing overflows sideways and the header's links (Explorer, Dashboard)
    and sign-out are on screen; axe passes there too."""
    ctx = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    sign_in(page, server, "alice", "alice-password")
    for path in PAGES:
        page.goto(f"{server}{path}")
        ready(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
        for selector in ("header nav a[href='/explorer']", "header nav a[href='/dashboard']", "#logout"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, (path, selector, box)
        axe(page, f"phone {path}")
        shot(page, "phone" + (path.replace("/", "-") if path != "/" else "-home"))
    page.click("#logout")
    page.wait_for_url("**/login")


def test_on_chain_names_are_shown_as_text(server, browser, web_app):
    """A name written on chain directly (bypassing the API's name rules) is escaped on every page."""
    from eth_account import Account

    gl = web_app.state.gl
    evil = "<img src=x onerror=\"window.__pwned=1\">"
    victim = Account.create().address
    with gl.lock:
        from gridledger.ledger.accounts import open_vault

        admin = open_vault(gl.settings.data_dir).find(gl.etsc.administrator(), gl.chain.chain_id)
        gl.etsc.empower(admin, evil, victim, True, False)
    gl.index.sync()
    page = browser.new_context().new_page()
    sign_in(page, server, "admin", "dev-admin-password")
    page.goto(f"{server}/admin")
    page.wait_for_selector(f"text={evil}")
    page.goto(f"{server}/portal")
    page.wait_for_selector("#retailer option", state="attached")
    assert evil in page.text_content("#retailer")
    page.goto(f"{server}/explorer/address/{victim}")
    page.wait_for_selector("text=Transactions (")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    shot(page, "18-escaped-name")
