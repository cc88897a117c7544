// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title EPOS, the energy proof score token
 * @notice Thesis section 3.4.5: the proof scores a round produces (PoEG, eqs. 3.4-3.6, or
 * PoSOC, eq. 4.1) are credited as EPOS to the members' wallets; members then stake them to
 * take part in the miner election. One EPOS (1e18 units) is one kWh of proof score.
 * @dev A plain ERC-20 whose supply is created, staked and burned (slashing, eq. 3.24) only by
 * the {ProofStaking} contract that deploys it.
 */
contract EPOS is ERC20 {
    /// @notice The staking contract that mints, stakes and burns.
    address public immutable staking;

    /// @notice The caller is not the staking contract.
    error EPOSNotStaking(address account);

    constructor() ERC20("Energy Proof Score", "EPOS") {
        staking = msg.sender;
    }

    modifier onlyStaking() {
        if (msg.sender != staking) revert EPOSNotStaking(msg.sender);
        _;
    }

    /// @notice Credit `amount` of proof score to `to`.
    function mint(address to, uint256 amount) external onlyStaking {
        _mint(to, amount);
    }

    /// @notice Destroy `amount` held by `from` (a slashed stake, held by the staking contract).
    function burn(address from, uint256 amount) external onlyStaking {
        _burn(from, amount);
    }

    /**
     * @notice Move a member's EPOS into or out of the stake without a prior approval: the
     * member itself calls the staking contract, which only moves the caller's own EPOS.
     */
    function stakingTransfer(address from, address to, uint256 amount) external onlyStaking {
        _transfer(from, to, amount);
    }
}
