// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title Elecoin
 * @notice The currency of the electricity trading system (paper, section II.A): prosumers buy
 * elecoins from edge servers and pay retailers with them. The whole supply is minted once, to
 * the market contract (the ETSC) that sells it.
 * @dev A plain ERC-20 plus one privileged move: the market may settle a trade from a
 * prosumer's balance without a prior approval, because the prosumer itself calls the market's
 * `trade` and the market moves only the caller's own elecoins.
 */
contract Elecoin is ERC20 {
    /// @notice The market contract allowed to settle trades.
    address public immutable market;

    /// @notice The caller is not the market contract.
    error ElecoinNotMarket(address account);

    /**
     * @param totalElecoins Whole supply, in the token's smallest unit (18 decimals).
     * @param market_ Contract that receives the supply and may settle trades.
     */
    constructor(uint256 totalElecoins, address market_) ERC20("Elecoin", "ELC") {
        market = market_;
        _mint(market_, totalElecoins);
    }

    /**
     * @notice Move `amount` from `from` to `to` on behalf of the market (trade settlement).
     * Requirements:
     * - the caller is the market contract;
     * - `from` holds at least `amount` (ERC20InsufficientBalance otherwise).
     */
    function marketTransfer(address from, address to, uint256 amount) external {
        if (msg.sender != market) revert ElecoinNotMarket(msg.sender);
        _transfer(from, to, amount);
    }
}
