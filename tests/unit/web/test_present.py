"""Units of every integer argument of the ABIs, sensible decimals, CSV that spreadsheets cannot
turn into formulas."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from gridledger.ledger.artifacts import CONTRACT_NAMES, abi
from gridledger.web.present import Symbols, amount, csv_text, number, unit_of


def _integer_inputs():
    for c in CONTRACT_NAMES:
        for item in abi(c):
            kind = item.get("type")
            if kind not in ("function", "event", "constructor"):
                continue
            if kind == "function" and item.get("stateMutability") in ("view", "pure"):
                continue
            member = item.get("name", "constructor")
            for i in item.get("inputs", []):
                for x in i.get("components", [i]) if i["type"].startswith("tuple") else [i]:  # a struct's fields
                    if x["type"].startswith(("uint", "int")):
                        yield c, member, x["name"]


@pytest.mark.parametrize(("contract", "member", "arg"), sorted(set(_integer_inputs())))
def test_every_integer_argument_has_a_unit(contract, member, arg):
    assert unit_of(contract, member, arg) is not None, f"add {contract} {member}.{arg} to present.UNITS"


def test_units_differ_where_the_contract_says_so():
    assert unit_of("ETSC", "ElecoinsBought", "amount") == "elecoin"
    assert unit_of("ETSC", "ProceedsWithdrawn", "amount") == "native"
    assert unit_of("ProofStaking", "RewardShared", "amount") == "upos"
    assert unit_of("ProofStaking", "Staked", "amount") == "epos"


@pytest.mark.parametrize(("value", "dp", "text"), [
    (Decimal("1234567.123456"), 4, "1,234,567.1235"), (Decimal("2.5000"), 4, "2.5"), (Decimal(0), 4, "0"),
    (Decimal("0.0000021"), 4, "0.0000021"), (Decimal("-0.00001234"), 3, "-0.000012"), (82.198, 3, "82.198"),
    (Decimal("0.99996"), 4, "1"), (Decimal("5"), 0, "5")])
def test_numbers_have_sensible_decimals(value, dp, text):
    assert number(value, dp) == text


def test_amounts_carry_their_symbols():
    sym = Symbols("AVAX")
    assert amount(2_500_000_000_000_000_000, "elecoin", sym) == "2.5 ELC"
    assert amount(205_496_000_000_000_000, "native", sym) == "0.205496 AVAX"
    assert amount(82_198_428_000_000_000, "native_per_elecoin", sym) == "0.082198 AVAX/ELC"
    assert amount(600_000_000_000_000, "elecoin_per_wh", sym) == "0.6 ELC/kWh"
    assert amount(1500, "wh", sym) == "1.5 kWh" and amount(500, "bps", sym) == "5%"


def test_csv_cells_cannot_become_formulas():
    text = csv_text([{"a": "=HYPERLINK(\"http://x\")", "b": "-0.5", "c": "+1 kWh", "d": "@SUM(A1)", "e": "bob"}],
                    ["a", "b", "c", "d", "e"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "-0.5", "'+1 kWh", "'@SUM(A1)", "bob"]


def test_struct_arguments_are_shown_field_by_field_with_units():
    from gridledger.web.present import display_args

    admin = "0x" + "ab" * 20
    rows = display_args("ETSC", "constructor", {"cfg": {"administrator": admin, "adminDelay": 172_800,
                                                        "minPrice": 2 * 10**16, "slotSupply": 5 * 10**18}},
                        Symbols(), {admin: "administrator"})
    assert [(r["name"], r.get("display"), r.get("label")) for r in rows] == [
        ("cfg.administrator", None, "administrator"), ("cfg.adminDelay", "172,800 s", None),
        ("cfg.minPrice", "0.02 ETH/ELC", None), ("cfg.slotSupply", "5 ELC", None)]
    assert amount(1_700_000_000, "time", Symbols()) == "2023-11-14 22:13:20 UTC"
    assert amount(0, "time", Symbols()) == "0"
    assert amount(12_500, "w", Symbols()) == "12.5 kW"


def test_roles_are_named_and_windows_counted_in_blocks():
    from eth_utils import keccak

    from gridledger.web.present import display_args

    sym = Symbols("ETH")
    role = "0x" + keccak(text="OPERATOR_ROLE").hex()
    shown = display_args("ProofStaking", "RoleGranted", {"role": role, "account": "0x" + "11" * 20}, sym)
    assert shown[0]["display"] == "OPERATOR_ROLE"
    unknown = display_args("ProofStaking", "RoleGranted", {"role": "0x" + "ab" * 32}, sym)
    assert "display" not in unknown[0]
    window = display_args("V2VSettlement", "constructor", {"claimWindow_": 100_000}, sym)[0]
    assert window["display"] == "100,000 blocks"
