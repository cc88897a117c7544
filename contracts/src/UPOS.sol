// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/**
 * @title UPOS, the universal energy credit
 * @notice Thesis section 3.4.5: an ERC-20 energy credit that makes the community's energy a
 * transferable digital asset; the mining reward of a round (eq. 3.23) is paid in it and shared
 * in the miner's coalition (eq. 3.17). One UPOS (1e18 units) is one kWh of energy credit.
 * Holders redeem credit by burning it ({ERC20Burnable}).
 * @dev The only minter is the {ProofStaking} contract that creates this token, fixed at
 * construction: no account holds an administrator or minter role, so nobody can grant itself
 * the right to mint. ProofStaking mints at most a round's recorded fee pool M_r = delta x savings
 * (eq. 3.23), and only to the members of the coalition whose miner sealed the round.
 *
 * Threat notes: supply = sum of the rewards ProofStaking paid (tests/security/test_staking_attacks.py,
 * "mint by the token admin"); transfers and burns are plain OpenZeppelin ERC-20.
 */
contract UPOS is ERC20, ERC20Burnable {
    /// @notice The staking contract that created this token, its only minter.
    address public immutable minter;

    /// @notice The caller is not the minter.
    error UPOSNotMinter(address account);

    constructor() ERC20("Universal Energy Credit", "UPOS") {
        minter = msg.sender;
    }

    /**
     * @notice Create `amount` of energy credit for `to`.
     * Requirements: the caller is {minter}.
     */
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert UPOSNotMinter(msg.sender);
        _mint(to, amount);
    }
}
