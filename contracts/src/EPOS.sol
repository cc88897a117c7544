// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

/// @notice What EPOS reads from its staking contract.
interface IProofScoreSource {
    function eposBalanceOf(address account) external view returns (uint256);

    function eposTotalSupply() external view returns (uint256);
}

/**
 * @title EPOS, the energy proof score of the current round
 * @notice Thesis section 3.4.5: the proof scores a round produces (PoEG, eqs. 3.4-3.6, or PoSOC,
 * eq. 4.17) are credited as EPOS to the members' wallets, and members stake them in the miner
 * election, where a validator's weight is its coalition's proof score (eq. 3.16 / 4.18). One
 * EPOS (1e18 units) is one kWh of proof score.
 * @dev EPOS is bound to the round and cannot be moved: a balance is the member's proof score
 * credited in the staking contract's current round, minus what the round burned (a slashed
 * coalition, eq. 3.24, or a validator that did not reveal its secret). Nothing carries over
 * between rounds, and nothing can be bought, sold or lent: `transfer`, `transferFrom` and
 * `approve` revert with {EPOSNonTransferable}. The contract keeps no balances of its own; it
 * exposes the ERC-20 read interface over {ProofStaking} so that wallets show the score. It emits
 * no Transfer events: balances change with the round, not by transfers.
 *
 * Threat notes: "transferable EPOS stake" (a member staking score it bought) is impossible by
 * construction; tests/security/test_staking_attacks.py shows it.
 */
contract EPOS is IERC20Metadata {
    /// @notice The staking contract whose current round the balances show.
    IProofScoreSource public immutable staking;

    /// @notice EPOS cannot be transferred or approved (it is the round's proof score).
    error EPOSNonTransferable();

    constructor() {
        staking = IProofScoreSource(msg.sender);
    }

    function name() external pure returns (string memory) {
        return "Energy Proof Score";
    }

    function symbol() external pure returns (string memory) {
        return "EPOS";
    }

    function decimals() external pure returns (uint8) {
        return 18;
    }

    /// @notice Proof score credited in the current round, net of what the round burned.
    function totalSupply() external view returns (uint256) {
        return staking.eposTotalSupply();
    }

    /// @notice `account`'s proof score in the current round, net of what the round burned.
    function balanceOf(address account) external view returns (uint256) {
        return staking.eposBalanceOf(account);
    }

    function allowance(address, address) external pure returns (uint256) {
        return 0;
    }

    /// @notice Always reverts: EPOS is bound to its holder and round.
    function transfer(address, uint256) external pure returns (bool) {
        revert EPOSNonTransferable();
    }

    /// @notice Always reverts: EPOS is bound to its holder and round.
    function approve(address, uint256) external pure returns (bool) {
        revert EPOSNonTransferable();
    }

    /// @notice Always reverts: EPOS is bound to its holder and round.
    function transferFrom(address, address, uint256) external pure returns (bool) {
        revert EPOSNonTransferable();
    }
}
