"""EIP-712 signatures for relayed member actions (stakes, subscriptions) and miners' seals.

A member signs ``keccak256(0x1901 || domainSeparator || structHash)`` in the contract's domain
(name, version, chain id, address), so a signature is valid for one contract on one chain only.
Signatures travel as (r, yParityAndS), the compact form of EIP-2098.
"""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from gridledger.ledger.chain import LocalSigner, Signer

DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


def domain_separator(name: str, version: str, chain_id: int, contract: str) -> bytes:
    """The EIP-712 domain separator of a contract (OpenZeppelin's EIP712)."""
    return keccak(encode(["bytes32", "bytes32", "bytes32", "uint256", "address"],
                         [DOMAIN_TYPEHASH, keccak(name.encode()), keccak(version.encode()), chain_id,
                          to_checksum_address(contract)]))


def typed_hash(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash)


def sign_hash(signer: Signer, digest: bytes) -> tuple[bytes, bytes]:
    """Sign a 32-byte EIP-712 hash; returns (r, yParityAndS)."""
    if not isinstance(signer, LocalSigner):
        raise TypeError("relayed signatures need a local key (a keystore or scenario account), not a node account")
    sig = signer.account.unsafe_sign_hash(digest)
    vs = sig.s | ((sig.v - 27) << 255)
    return sig.r.to_bytes(32, "big"), vs.to_bytes(32, "big")
