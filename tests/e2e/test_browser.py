"""End-to-end in a real browser (Debian chromium, headless, driven by Playwright): a user signs
up and in, buys elecoins, trades, and sees the trade in the explorer; users without the right
role are refused. Screenshots of every page go to test-artifacts/e2e/."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from webapp import make_app

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("e2e"))
    _record_rounds(app.state.gl)
    return app


@pytest.fixture(scope="module")
def server(web_app):
    app = web_app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline, "the web server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _record_rounds(gl):
    """A community day and two fleet days on the app's chain, for the dashboard. The fleet acts by
    a script (tests/situations.py): EV 0 buys V2V from EVs 1 and 2, has a profit every day and is
    the selfish one."""
    import numpy as np
    from situations import ScriptedFleet

    from gridledger.learn.fleet.env import V2VConfig
    from gridledger.scenarios.community.chain import record_community_day
    from gridledger.scenarios.community.run import CommunityConfig, synthetic_input
    from gridledger.scenarios.fleet.chain import FleetSettleConfig, settle_fleet

    cfg = CommunityConfig(prosumers=6)
    rng = np.random.default_rng(0)
    record_community_day(gl.chain, gl.settings.data_dir, cfg, synthetic_input(cfg, rng), rng)
    report = settle_fleet(gl.chain, gl.settings.data_dir, ScriptedFleet(), V2VConfig(), 1,
                          FleetSettleConfig(evs=3, days=2, selfish=(0,)))
    assert report["evs"][0]["held_wei"] > 0  # the selfish EV never collected its net profit


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


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


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
    page.locator("#who", has_text=name).wait_for()


@pytest.mark.seed_sensitive
def test_full_flow_in_the_browser(server, browser):
    from playwright.sync_api import expect

    base = server
    visitor = browser.new_context().new_page()
    alice = sign_up(visitor, base, "alice")
    bob = sign_up(visitor, base, "bob")
    carol = sign_up(visitor, base, "carol")
    shot(visitor, "01-login-signup")

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
    admin.fill("#meteruser", bob)
    admin.click("#addmeter")
    admin.wait_for_selector("#metermsg.ok")
    admin.fill("#readkwh", "5")
    admin.click("#report")
    admin.wait_for_selector("#readmsg.ok")
    admin.wait_for_selector("text=bob")
    shot(admin, "02-admin")

    edge = browser.new_context().new_page()
    sign_in(edge, base, "edge-server-1", "dev-admin-password")
    assert edge.url.endswith("/server")
    edge.fill("#price", "82.2")
    edge.click("#declare")
    edge.wait_for_selector("#pricemsg.ok")
    shot(edge, "03-edge-server")

    page = browser.new_context().new_page()
    sign_in(page, base, "alice", "alice-password")
    assert page.url.endswith("/portal")
    page.wait_for_selector("#balance")
    page.fill("#elecoins", "2")
    page.click("#buy")
    page.wait_for_selector("#buymsg.ok")
    expect(page.locator("#balance")).to_have_text(re.compile(r"^2\.0"))
    page.select_option("#retailer", bob)
    page.fill("#kwh", "1")
    page.click("#check")
    page.wait_for_selector("#trademsg.ok")
    assert "qualified" in page.text_content("#trademsg")
    page.click("#trade")
    page.wait_for_selector("#tradetx")
    expect(page.locator("#power")).to_have_text(re.compile(r"^1\.000"))
    shot(page, "04-portal-after-trade")
    page.click("#tradetx")
    page.wait_for_selector("#events")
    assert "ETSC.trade" in page.text_content("#call")
    assert "Traded" in page.text_content("#events")
    shot(page, "05-explorer-tx")
    page.goto(f"{base}/explorer")
    page.wait_for_selector("text=Latest blocks")
    page.fill("#q", alice)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Transactions (")
    shot(page, "06-explorer-address")
    page.goto(f"{base}/dashboard")
    page.wait_for_selector("#status.ok", timeout=300_000)  # the page polls while DMA-UBRL runs (once per server)
    assert page.locator("svg").count() >= 4
    page.wait_for_selector("#c-status.ok")
    page.wait_for_selector("#f-status.ok")
    assert page.locator("#c-rounds tr").count() == 2  # header + round 1
    assert page.locator("#f-rounds tr").count() == 3  # header + rounds 2, 1
    standing = page.text_content("#f-evs")
    # The fee was deducted at settlement: the selfish EV's net profit waits for it (or for the
    # treasury after the claim window); the honest EVs were paid out.
    assert standing.count("uncollected: to the treasury after block") == 1  # the selfish EV
    assert standing.count("collected") - standing.count("uncollected") == 2 and "fee owed" not in standing
    shot(page, "07-dashboard")

    # Users without the role are refused, and nothing happens.
    intruder = browser.new_context().new_page()
    sign_in(intruder, base, "carol", "carol-password")
    intruder.fill("#elecoins", "1")
    intruder.click("#buy")
    intruder.wait_for_selector("#buymsg.err")
    assert "ETSCNotRegistered" in intruder.text_content("#buymsg")
    intruder.goto(f"{base}/admin")
    intruder.fill("#address", carol)
    intruder.fill("#uname", "carol")
    intruder.click("#empower")
    intruder.wait_for_selector("#usermsg.err")
    assert "admin role" in intruder.text_content("#usermsg")
    shot(intruder, "08-refused")
    anonymous = browser.new_context().new_page()
    anonymous.goto(f"{base}/portal")
    anonymous.wait_for_selector("#who a")
    anonymous.click("#buy")
    anonymous.wait_for_selector("#buymsg.err")
    assert "sign in" in anonymous.text_content("#buymsg")
    shot(anonymous, "09-anonymous")


def test_pages_run_under_the_csp_and_docs_work_offline(server, browser):
    """Every page's scripts are allowed by the Content-Security-Policy (no violation, no script
    error); /docs and /redoc render from local assets only."""
    page = browser.new_context().new_page()
    seen = watch(page)
    for path in ("/", "/login", "/portal", "/admin", "/server", "/explorer", "/dashboard"):
        page.goto(f"{server}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
    assert "gridledger" in page.text_content(".swagger-ui .info .title")
    page.get_by_text("/api/buy", exact=True).first.wait_for()
    shot(page, "10-docs")
    page.goto(f"{server}/redoc")
    page.wait_for_selector("text=Prosumer portal, blockchain explorer", timeout=60_000)
    shot(page, "11-redoc")
    violations = [m for m in seen["console"] if "Content Security Policy" in m or "pageerror" in m]
    assert not violations, violations
    assert seen["requests"] and all(u.startswith(server) or u.startswith(("data:", "blob:"))
                                    for u in seen["requests"]), [u for u in seen["requests"] if not
                                                                  u.startswith(server)]


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
    shot(page, "12-escaped-name")
