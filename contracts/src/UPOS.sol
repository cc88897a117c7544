// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/**
 * @title UPOS, the universal energy credit
 * @notice Thesis section 3.4.5: an ERC-20 energy credit that makes the community's energy a
 * transferable digital asset (mining rewards are paid in it, eq. 3.17, and surplus can be sold
 * to other markets). One UPOS (1e18 units) is one kWh of energy credit. Holders redeem credit
 * by burning it ({ERC20Burnable}).
 * @dev Minting is restricted to accounts holding MINTER_ROLE (the markets' staking contracts),
 * granted by the administrator.
 */
contract UPOS is ERC20, ERC20Burnable, AccessControl {
    /// @notice Role allowed to mint energy credit.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param admin Account that grants and revokes MINTER_ROLE.
    constructor(address admin) ERC20("Universal Energy Credit", "UPOS") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Create `amount` of energy credit for `to` (MINTER_ROLE only).
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
