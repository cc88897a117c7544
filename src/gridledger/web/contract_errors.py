"""Every custom error of the contracts as a sentence: what it means and what to do.

:data:`ERRORS` is the one table the portal, the administrator's and edge server's pages and the
explorer (a failed transaction's revert reason) read; ``tests/unit/web/test_contract_errors.py``
checks that it covers every custom error in the committed ABIs and that every sentence formats
with the error's arguments. Arguments are shown in units (``units``: see
:mod:`gridledger.web.present`) and accounts by their label when they have one.

Entries for errors of contract versions not deployed here are harmless: they are used only when a
revert carries that name.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass, field
from typing import Any

from gridledger.ledger.artifacts import CONTRACT_NAMES, abi
from gridledger.web.present import Symbols, amount


@dataclass(frozen=True)
class ErrorText:
    meaning: str
    todo: str
    units: dict[str, str] = field(default_factory=dict)


E = ErrorText
_WH = {"available": "wh", "needed": "wh"}
_ELC = {"available": "elecoin", "needed": "elecoin"}

ERRORS: dict[str, ErrorText] = {
    # -- ETSC (the electricity market)
    "ETSCNotAdministrator": E("Only the market's administrator may do this; {account} is not the administrator.",
                              "Sign in with the administrator's account."),
    "ETSCNotEdgeServer": E("{account} is not an edge server of this market.",
                           "Choose one of the market's edge servers, or sign in with an edge server's account."),
    "ETSCNotMeter": E("{account} is not a registered smart meter.",
                      "Register the meter for its user first (administrator, Smart meters)."),
    "ETSCNotRegistered": E("{account} is not registered in the market yet.",
                           "Ask the administrator to register the account (share its address); "
                           "it can trade once it has the trading right."),
    "ETSCAlreadyRegistered": E("{account} is already registered.",
                               "Change its rights instead (Set rights)."),
    "ETSCMeterAlreadyRegistered": E("The smart meter {meter} is already registered.",
                                    "Use that meter, or register a new one."),
    "ETSCNoTransRight": E("{account} does not have the right to trade.",
                          "Ask the administrator to give the account the trading right."),
    "ETSCNoGenRight": E("{account} does not have the right to generate (sell electricity).",
                        "Report consumption instead, or ask the administrator for the generation right."),
    "ETSCZeroAmount": E("The amount is zero.", "Enter an amount above zero."),
    "ETSCZeroAddress": E("An address is the zero address.", "Enter a real account address."),
    "ETSCEmptyName": E("The name is empty.", "Enter a name."),
    "ETSCSelfTrade": E("{account} cannot buy electricity from itself.", "Choose another retailer."),
    "ETSCInsufficientPower": E("{account} has {available} of available power; {needed} are needed.",
                               "For a trade: choose a smaller amount or another retailer. For a consumption reading: "
                               "the user has not that much power available; report its generation first.", _WH),
    "ETSCInsufficientElecoins": E("{account} holds {available}; this needs {needed}.",
                                  "Buy elecoins from an edge server first, or buy less electricity.", _ELC),
    "ETSCInsufficientReserve": E("The market's elecoin reserve holds {available}; {needed} were asked.",
                                 "Buy fewer elecoins.", _ELC),
    "ETSCPriceNotDeclared": E("The edge server {server} has not declared a price for {prosumer}.",
                              "Choose an edge server with a price, or ask the edge server to declare one."),
    "ETSCWrongPayment": E("The payment was {paid}; the price asks exactly {expected}.",
                          "The price changed meanwhile: reload the quote and buy again.",
                          {"expected": "native", "paid": "native"}),
    "ETSCNothingToWithdraw": E("{account} has no proceeds to withdraw.", "Wait for elecoin sales."),
    "ETSCWithdrawFailed": E("Sending {amount} to {account} failed.",
                            "The receiving account refused the coin; withdraw to an account that accepts it.",
                            {"amount": "native"}),
    "ETSCAllocationExceeded": E("The edge server {server} may sell {available} more; {needed} were asked.",
                                "Buy less from this edge server, or choose another.", _ELC | {"server": ""}),
    "ETSCEdgeServerAlreadyAdded": E("{account} is already an edge server.", "Nothing to do."),
    "ETSCInvalidParameter": E("The parameter {name} = {value} is out of range (at most {max}).",
                              "Choose a value within the range."),
    "ETSCInvalidPriceBounds": E("The price bounds are inconsistent (minimum {minPrice}, maximum {maxPrice}, "
                                "redemption {redemptionPrice}).", "Give a minimum below the maximum.",
                                {"minPrice": "native_per_elecoin", "maxPrice": "native_per_elecoin",
                                 "redemptionPrice": "native_per_elecoin"}),
    "ETSCNotGuardian": E("{account} may not pause or resume the market.", "Sign in with the guardian's account."),
    "ETSCPriceOutOfBounds": E("The price {price} is outside the allowed range {minPrice} to {maxPrice}.",
                              "Declare a price within the bounds.",
                              {"price": "native_per_elecoin", "minPrice": "native_per_elecoin",
                               "maxPrice": "native_per_elecoin"}),
    "ETSCRatedPowerOutOfRange": E("The rated power {ratedW} W is out of range (at most {max} W).",
                                  "Enter the meter's real rating."),
    "ETSCReportAboveRating": E("The meter {meter} reported {reportedWh}; its rating allows only {remainingWh} more "
                               "in this period.", "Check the reading; report it in the next period.",
                               {"reportedWh": "wh", "remainingWh": "wh"}),
    "ETSCSlotSupplyExhausted": E("Slot {slot} has {available} left; {needed} were asked.",
                                 "Buy less, or wait for the next slot.", _ELC),
    "ETSCTooManyEdgeServers": E("The market has the most edge servers it may have ({max}).",
                                "Remove an edge server first."),
    "ElecoinNotMarket": E("Only the market contract may move elecoins this way; {account} is not it.",
                          "Trade through the market (ETSC)."),
    # -- EPOS, UPOS (proof scores and energy credit)
    "EPOSNotStaking": E("Only the staking contract may mint, burn or move EPOS; {account} is not it.",
                        "Stake through the staking contract."),
    "EPOSNonTransferable": E("EPOS cannot be transferred between accounts.", "Stake it instead."),
    "UPOSNotMinter": E("{account} may not mint UPOS.", "Only the staking contract mints rewards."),
    # -- ProofStaking (PoEG / PoSOC rounds)
    "StakingAlreadyStakedWith": E("{member} has already staked with {validator} in this round.",
                                  "A member stakes with one validator per round."),
    "StakingBadSlashBps": E("The slash share {given} is above 100%.", "Give at most 10,000 basis points.",
                            {"given": "bps"}),
    "StakingDuplicateMember": E("{member} is listed twice.", "List each member once."),
    "StakingEmptyList": E("The list is empty.", "Give at least one account."),
    "StakingInsufficientEPOS": E("{account} holds {available}; {needed} are needed.",
                                 "Stake at most the proof score credited this round.",
                                 {"available": "epos", "needed": "epos"}),
    "StakingLengthMismatch": E("{accounts} accounts but {values} values were given.", "Give one value per account."),
    "StakingNoCandidate": E("Round {round} has no validator left to elect.",
                            "Close the round without a miner."),
    "StakingNoRewardToken": E("This staking contract has no reward token (PoSOC rounds pay no UPOS).",
                              "Close the round instead of paying a reward."),
    "StakingNotInMinerCoalition": E("{account} is not in the elected miner's coalition.",
                                    "Only the miner's coalition shares the reward."),
    "StakingNotMember": E("{account} is not a member of round {round}.",
                          "Only accounts credited with a proof score this round may stake."),
    "StakingNotOperator": E("Only the operator may do this; {account} is not the operator.",
                            "Sign in with the operator's account."),
    "StakingNotValidator": E("{validator} is not a validator in round {round}.",
                             "Stake with a validator of this round."),
    "StakingNothingStaked": E("{account} has nothing staked in round {round}.", "Nothing to take back."),
    "StakingRoundStillOpen": E("Round {round} is still open.", "Wait until the round closes."),
    "StakingSeedMismatch": E("The seed revealed for round {round} does not match its commitment.",
                             "Reveal the seed committed when the round opened."),
    "StakingSelfTrade": E("{account} cannot trade with itself.", "Record trades between two accounts."),
    "StakingWrongPhase": E("Round {round} is not in the phase this needs (it is in phase {phase}).",
                           "Wait for the right phase of the round."),
    "StakingZeroAddress": E("An address is the zero address.", "Give a real account address."),
    "StakingZeroAmount": E("The amount is zero.", "Give an amount above zero."),
    "StakingAlreadyRewarded": E("{member} has already received its reward for round {round}.", "Nothing to do."),
    "StakingAlreadyStaked": E("{member} has already staked in round {round}.", "A member stakes once per round."),
    "StakingAmountTooLarge": E("The amount {given} is above the largest allowed ({max}).", "Give a smaller amount."),
    "StakingBadParameter": E("The parameter {name} = {given} is out of range.", "Choose a value within the range."),
    "StakingBadReveal": E("The reveal of {validator} for round {round} does not match its commitment.",
                          "Reveal exactly what was committed."),
    "StakingBadSignature": E("The signature is by {recovered}, not by {expected}.",
                             "Sign with the expected account."),
    "StakingBatchTooLarge": E("The batch has {given} entries; at most {max} are allowed.", "Send smaller batches."),
    "StakingMissingCommitment": E("{validator} has not committed yet.", "Commit before revealing."),
    "StakingNotChallengeable": E("Round {round} cannot be challenged now.", "Challenge within the round's window."),
    "StakingNotCommitted": E("{validator} did not commit in round {round}.", "Commit during the commit phase."),
    "StakingNothingToClaim": E("{account} has nothing to claim in round {round}.", "Nothing to do."),
    "StakingRewardExceeded": E("Round {round}'s reward pool holds {pool}; {requested} were asked.",
                               "Pay at most the pool.", {"pool": "upos", "requested": "upos"}),
    "StakingRewardWindow": E("Round {round}'s rewards can be paid only between {opens} and {closes}.",
                             "Pay the reward within its window."),
    "StakingSameDigest": E("Round {round} already records this digest.", "Nothing to do."),
    "StakingSealDeadlinePassed": E("Round {round}'s seal deadline ({sealDeadline}) has passed.",
                                   "Close the round; the miner did not seal in time."),
    "StakingSealWindowOpen": E("Round {round} can still be sealed until {sealDeadline}.", "Wait for the deadline."),
    "StakingUnexpectedCommitment": E("{delegator} is a delegator and must not commit.", "Only validators commit."),
    # -- V2VSettlement (the EV fleet)
    "V2VAlreadySettled": E("Round {round} has already been settled.", "Nothing to do."),
    "V2VAlreadySubscribed": E("The EV {ev} has already subscribed.", "Nothing to do."),
    "V2VBadBeta": E("The fee share {given} is out of range.", "Give between 1 and 10,000 basis points.",
                    {"given": "bps"}),
    "V2VBetaMismatch": E("The fee share accepted ({given}) is not the contract's ({expected}).",
                         "Accept the contract's fee share.", {"given": "bps", "expected": "bps"}),
    "V2VFeeOutstanding": E("The EV {ev} owes {owed} of fees; its profit stays held until it pays.",
                           "Pay the outstanding fee first (payFees, or payFeesFromProfit).", {"owed": "native"}),
    "V2VLengthMismatch": E("{evs} EVs but {profits} profits were given.", "Give one profit per EV."),
    "V2VNoMiner": E("Round {round} has no miner.", "Settle only rounds with an elected miner."),
    "V2VNotOperator": E("Only the operator may do this; {account} is not the operator.",
                        "Sign in with the operator's account."),
    "V2VNotSubscribed": E("The EV {ev} has not subscribed.", "Subscribe the EV first."),
    "V2VNothingOwed": E("The EV {ev} owes no fee.", "Nothing to pay."),
    "V2VNothingToWithdraw": E("{account} has nothing to withdraw.", "Nothing to do."),
    "V2VTransferFailed": E("Sending {amount} to {account} failed.",
                           "Withdraw to an account that accepts the coin.", {"amount": "native"}),
    "V2VWrongValue": E("{sent} was sent; exactly {expected} is due.", "Send exactly the amount due.",
                       {"sent": "native", "expected": "native"}),
    "V2VZeroAddress": E("An address is the zero address.", "Give a real account address."),
    "V2VAmountTooLarge": E("The amount {given} is above the largest allowed ({max}).", "Give a smaller amount."),
    "V2VBadParameter": E("The parameter {name} = {given} is out of range.", "Choose a value within the range."),
    "V2VBadSignature": E("The signature is by {recovered}, not by {expected}.", "Sign with the expected account."),
    "V2VBatchTooLarge": E("The batch has {given} entries; at most {max} are allowed.", "Send smaller batches."),
    "V2VEmptyList": E("The list is empty.", "Give at least one EV."),
    "V2VRoundNotClosed": E("Round {round} is not closed yet.", "Settle after the round closes."),
    # -- OpenZeppelin's errors (ERC-20 tokens, roles, pausing, reentrancy, casts)
    "ERC20InsufficientBalance": E("{sender} holds {balance} token units; {needed} are needed.",
                                  "Move less, or top the balance up first."),
    "ERC20InsufficientAllowance": E("{spender} may move {allowance} token units; {needed} were asked.",
                                    "Approve a larger allowance first."),
    "ERC20InvalidApprover": E("The approver {approver} is not valid (the zero address).", "Approve from an account."),
    "ERC20InvalidReceiver": E("The receiver {receiver} is not valid (the zero address).", "Send to a real account."),
    "ERC20InvalidSender": E("The sender {sender} is not valid (the zero address).", "Send from a real account."),
    "ERC20InvalidSpender": E("The spender {spender} is not valid (the zero address).", "Approve a real account."),
    "AccessControlUnauthorizedAccount": E("{account} lacks the role {neededRole} this needs.",
                                          "Sign in with an account that holds the role, or have it granted."),
    "AccessControlBadConfirmation": E("A role can be renounced only by its holder, confirming its own address.",
                                      "Renounce from the account itself."),
    "AccessControlEnforcedDefaultAdminDelay": E("The administrator change is scheduled for {schedule}.",
                                                "Wait until then to accept it."),
    "AccessControlEnforcedDefaultAdminRules": E("The administrator role can only change by the two-step transfer.",
                                                "Begin the transfer, then accept it from the new account."),
    "AccessControlInvalidDefaultAdmin": E("{defaultAdmin} is not the pending administrator.",
                                          "Accept from the account the transfer names."),
    "EnforcedPause": E("The contract is paused.", "Wait until it is resumed."),
    "ExpectedPause": E("The contract is not paused.", "Nothing to do."),
    "ReentrancyGuardReentrantCall": E("The contract was called again while still running (reentrancy).",
                                      "Call it once, not from inside another of its calls."),
    "SafeCastOverflowedUintDowncast": E("The value {value} does not fit in {bits} bits.", "Give a smaller value."),
    "ECDSAInvalidSignature": E("The signature is not a valid signature.", "Sign again with the expected account."),
    "ECDSAInvalidSignatureLength": E("The signature has {length} bytes; a signature has 65.",
                                     "Send the whole signature (r, s, v)."),
    "ECDSAInvalidSignatureS": E("The signature's s value {s} is out of range (a malleable signature).",
                                "Sign again with a standard signer (low-s signatures)."),
    "InvalidShortString": E("A short string is not valid.", "This is a fault in the contract; report it."),
    "StringTooLong": E("The text {str} is too long.", "Use a shorter text."),
    # -- reverts that are not custom errors
    "Error": E("The contract refused: {message}.", "Check the inputs."),
    "Panic": E("The contract stopped on an internal check (panic code {code}).",
               "This is a fault in the contract; report it with the transaction."),
    "InsufficientFunds": E("The account does not hold enough native coin to pay the amount and the gas.",
                           "Ask for less, or top the account up first."),
    "OutOfGas": E("The transaction ran out of gas ({gas} gas).", "Send it again with more gas."),
    "Reverted": E("The transaction was reverted without a reason.", "Check the inputs and try again."),
    "Unknown": E("The contract refused with an error this app does not know (selector {selector}).",
                 "Check the contract's source for that error."),
}


@functools.cache
def abi_errors() -> dict[str, list[str]]:
    """Every custom error of the committed ABIs: name -> argument names."""
    out: dict[str, list[str]] = {}
    for c in CONTRACT_NAMES:
        for item in abi(c):
            if item.get("type") == "error":
                out[item["name"]] = [i["name"] for i in item["inputs"]]
    return out


def placeholders(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def explain(name: str, args: dict[str, Any], names: dict[str, str] | None = None,
            sym: Symbols | None = None) -> dict[str, str]:
    """``{"message": meaning, "hint": what to do}`` for a revert, its arguments in units and accounts
    by label; an error missing from the table still gets a sentence from its name."""
    sym = sym or Symbols()
    names = names or {}
    entry = ERRORS.get(name)
    if entry is None:
        words = "".join(" " + ch.lower() if ch.isupper() else ch for ch in name).strip()
        shown = ", ".join(f"{k} {v}" for k, v in args.items())
        return {"message": f"The contract refused ({words}{': ' + shown if shown else ''}).",
                "hint": "Check the inputs."}
    values: dict[str, str] = {}
    for k, v in args.items():
        unit = entry.units.get(k)
        text = str(v)
        if unit and text.lstrip("-").isdigit():
            text = amount(int(text), unit, sym)
        elif isinstance(v, str) and v.startswith("0x") and len(v) == 42:
            text = f"{names[v]} ({v[:8]}…{v[-4:]})" if v in names else v
        values[k] = text

    class _Default(dict):
        def __missing__(self, key: str) -> str:
            return "?"

    message = entry.meaning.format_map(_Default(values))
    if message.startswith("your account"):  # a sentence starting with the reader's account (names keep their case)
        message = "Y" + message[1:]
    return {"message": message, "hint": entry.todo.format_map(_Default(values))}
