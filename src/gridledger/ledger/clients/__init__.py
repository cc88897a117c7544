"""Typed Python clients for the contracts: callers never build transactions or decode hex.

One module per contract (``etsc``, ``elecoin``, ``epos``, ``upos``, ``staking``, ``settlement``);
this package re-exports them.

Units on chain: energy in Wh (int), elecoins in the token's smallest unit (int, 18 decimals),
edge-server prices in wei per whole elecoin, the unit power price Q in elecoin units per Wh.
:mod:`gridledger.ledger.units` converts from the market's floats.
"""

from gridledger.ledger.clients.base import ZERO_ADDRESS, ContractClient, Event, TxResult, decode_events
from gridledger.ledger.clients.elecoin import ElecoinClient
from gridledger.ledger.clients.epos import EPOSClient
from gridledger.ledger.clients.erc20 import ERC20Client
from gridledger.ledger.clients.etsc import AccountState, ETSCClient, ETSCConfig, MeterInfo, Qualification, Totals
from gridledger.ledger.clients.settlement import V2VSettlementClient
from gridledger.ledger.clients.staking import Phase, RoundInfo, StakingClient, seed_commitment
from gridledger.ledger.clients.upos import UPOSClient

__all__ = [
           "ZERO_ADDRESS",
           "AccountState",
           "ContractClient",
           "EPOSClient",
           "ERC20Client",
           "ETSCClient",
           "ETSCConfig",
           "ElecoinClient",
           "Event",
           "MeterInfo",
           "Phase",
           "Qualification",
           "RoundInfo",
           "StakingClient",
           "Totals",
           "TxResult",
           "UPOSClient",
           "V2VSettlementClient",
           "decode_events",
           "seed_commitment",
]
