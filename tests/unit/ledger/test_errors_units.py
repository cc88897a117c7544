import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from gridledger.ledger.errors import decode_revert, revert_data
from gridledger.ledger.units import (
    elecoins_to_units,
    kwh_to_wh,
    price_to_wei,
    unit_power_price_units,
    units_to_elecoins,
)


def _data(signature, types, values):
    return function_signature_to_4byte_selector(signature) + encode(types, values)


def test_decode_custom_error_with_arguments():
    data = _data("ETSCInsufficientPower(address,uint256,uint256)", ["address", "uint256", "uint256"],
                 ["0x" + "ab" * 20, 5, 9])
    err = decode_revert(data)
    assert err.name == "ETSCInsufficientPower"
    assert err.args_dict == {"account": "0x" + "aB" * 20 if False else err.args_dict["account"], "available": 5,
                             "needed": 9}
    assert err.args_dict["account"].lower() == "0x" + "ab" * 20
    assert "ETSCInsufficientPower(" in str(err)


def test_decode_standard_error_and_unknown_selector():
    assert decode_revert(_data("Error(string)", ["string"], ["boom"])).args_dict == {"message": "boom"}
    assert decode_revert(b"\x01\x02\x03\x04").name == "Unknown"
    assert decode_revert(b"").name == "Reverted"


@pytest.mark.parametrize(
    "exc",
    [
        Exception("execution reverted: b'\\x01\\x02\\x03\\x04\\x05'"),
        Exception({"code": 3, "message": "execution reverted", "data": "0x0102030405"}),
        Exception("boom", b"\x01\x02\x03\x04\x05"),
    ],
)
def test_revert_data_found_in_backend_exceptions(exc):
    assert revert_data(exc) == b"\x01\x02\x03\x04\x05"


def test_revert_data_absent():
    assert revert_data(Exception("connection refused")) is None


def test_unit_conversions_are_exact():
    assert kwh_to_wh(1.2345) == 1234 or kwh_to_wh(1.2345) == 1235
    assert kwh_to_wh(2.5) == 2500
    assert elecoins_to_units(0.1) == 10**17
    assert units_to_elecoins(elecoins_to_units(3.75)) == 3.75
    assert unit_power_price_units(0.6) == 6 * 10**14
    assert price_to_wei(82.5, 10**15) == 825 * 10**14
