// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ProofStaking} from "./ProofStaking.sol";

/**
 * @title V2VSettlement: the EV fleet's round settlement, holding selfish users to their fee
 * @notice Thesis section 4.3.5 and Fig. 4.5. An EV subscribes by accepting the fleet's share
 * beta of its profit owed to the round's miner (the mLAG, eq. 4.20). After each round the
 * operator deposits every EV's profit (in the chain's native coin); the profit is held by this
 * contract, and the fee beta * profit is owed to the round's miner, read from the fleet's
 * {ProofStaking}. An EV withdraws its held profit only once it owes nothing: a user that does
 * not pay has its profit confiscated until the fee is paid in full.
 */
contract V2VSettlement is ReentrancyGuard {
    /// @notice The fleet's aggregator, who deposits the rounds' profits.
    address public immutable operator;
    /// @notice The fleet's PoSOC staking contract, which elects each round's miner.
    ProofStaking public immutable staking;
    /// @notice beta of eq. (4.20) in basis points, agreed by every subscriber.
    uint16 public immutable betaBps;

    mapping(address => bool) public subscribed;
    /// @notice Profit held for an EV (withdrawable once no fee is owed).
    mapping(address => uint256) public held;
    /// @notice Fees an EV owes, all miners together.
    mapping(address => uint256) public owed;
    /// @notice Fees an EV owes to one miner.
    mapping(address => mapping(address => uint256)) public owedTo;
    mapping(address => address[]) private _creditors;
    /// @notice Fees paid to a miner and not yet withdrawn.
    mapping(address => uint256) public minerCredit;
    /// @notice Whether a round was settled.
    mapping(uint256 => bool) public settled;

    event Subscribed(address indexed ev, uint16 betaBps);
    event Settled(uint256 indexed round, address indexed ev, address indexed miner, uint256 profit, uint256 fee);
    event FeePaid(address indexed ev, address indexed miner, uint256 amount, bool fromProfit);
    event ProfitWithdrawn(address indexed ev, uint256 amount);
    event FeesWithdrawn(address indexed miner, uint256 amount);

    error V2VNotOperator(address account);
    error V2VZeroAddress();
    error V2VBadBeta(uint256 given);
    error V2VBetaMismatch(uint16 expected, uint16 given);
    error V2VAlreadySubscribed(address ev);
    error V2VNotSubscribed(address ev);
    error V2VAlreadySettled(uint256 round);
    error V2VNoMiner(uint256 round);
    error V2VLengthMismatch(uint256 evs, uint256 profits);
    error V2VWrongValue(uint256 expected, uint256 sent);
    error V2VNothingOwed(address ev);
    error V2VFeeOutstanding(address ev, uint256 owed);
    error V2VNothingToWithdraw(address account);
    error V2VTransferFailed(address account, uint256 amount);

    modifier onlyOperator() {
        if (msg.sender != operator) revert V2VNotOperator(msg.sender);
        _;
    }

    /**
     * @param operator_ The fleet's aggregator.
     * @param staking_ The fleet's PoSOC staking contract.
     * @param betaBps_ beta of eq. (4.20), in basis points (1..10000).
     */
    constructor(address operator_, ProofStaking staking_, uint16 betaBps_) {
        if (operator_ == address(0) || address(staking_) == address(0)) revert V2VZeroAddress();
        if (betaBps_ == 0 || betaBps_ > 10_000) revert V2VBadBeta(betaBps_);
        operator = operator_;
        staking = staking_;
        betaBps = betaBps_;
    }

    /// @notice Subscribe, accepting the fee share `acceptedBetaBps` (must equal {betaBps}).
    function subscribe(uint16 acceptedBetaBps) external {
        if (acceptedBetaBps != betaBps) revert V2VBetaMismatch(betaBps, acceptedBetaBps);
        if (subscribed[msg.sender]) revert V2VAlreadySubscribed(msg.sender);
        subscribed[msg.sender] = true;
        emit Subscribed(msg.sender, acceptedBetaBps);
    }

    /**
     * @notice Settle a round: deposit each EV's profit (msg.value is their sum) and record the
     * fee beta * profit each owes the round's miner (the miner owes itself nothing).
     * Requirements: operator; round not settled; the round has a miner; equal lists; every EV
     * subscribed; msg.value equals the sum of the profits.
     */
    function settle(uint256 round, address[] calldata evs, uint256[] calldata profits)
        external
        payable
        onlyOperator
    {
        if (settled[round]) revert V2VAlreadySettled(round);
        address miner = staking.minerOf(round);
        if (miner == address(0)) revert V2VNoMiner(round);
        if (evs.length != profits.length) revert V2VLengthMismatch(evs.length, profits.length);
        uint256 sum;
        for (uint256 i = 0; i < evs.length; ++i) {
            sum += profits[i];
        }
        if (sum != msg.value) revert V2VWrongValue(sum, msg.value);
        settled[round] = true;
        for (uint256 i = 0; i < evs.length; ++i) {
            address ev = evs[i];
            if (!subscribed[ev]) revert V2VNotSubscribed(ev);
            uint256 fee = ev == miner ? 0 : (profits[i] * betaBps) / 10_000;
            held[ev] += profits[i];
            if (fee > 0) {
                if (owedTo[ev][miner] == 0) _creditors[ev].push(miner);
                owedTo[ev][miner] += fee;
                owed[ev] += fee;
            }
            emit Settled(round, ev, miner, profits[i], fee);
        }
    }

    /// @notice Pay every fee the caller owes from its wallet (msg.value must equal {owed}).
    function payFees() external payable {
        uint256 due = owed[msg.sender];
        if (due == 0) revert V2VNothingOwed(msg.sender);
        if (msg.value != due) revert V2VWrongValue(due, msg.value);
        _clearFees(msg.sender, false);
    }

    /**
     * @notice Pay every fee the caller owes out of its held profit. The held profit always
     * covers the fees (each fee is a share of a profit added to it, and nothing is withdrawn
     * while a fee is owed).
     */
    function payFeesFromProfit() external {
        uint256 due = owed[msg.sender];
        if (due == 0) revert V2VNothingOwed(msg.sender);
        held[msg.sender] -= due;
        _clearFees(msg.sender, true);
    }

    /// @notice Withdraw the caller's held profit. Requirements: no fee owed (Fig. 4.5).
    function withdrawProfit() external nonReentrant {
        if (owed[msg.sender] > 0) revert V2VFeeOutstanding(msg.sender, owed[msg.sender]);
        uint256 amount = held[msg.sender];
        if (amount == 0) revert V2VNothingToWithdraw(msg.sender);
        held[msg.sender] = 0;
        _send(msg.sender, amount);
        emit ProfitWithdrawn(msg.sender, amount);
    }

    /// @notice Withdraw the fees paid to the caller as a miner.
    function withdrawFees() external nonReentrant {
        uint256 amount = minerCredit[msg.sender];
        if (amount == 0) revert V2VNothingToWithdraw(msg.sender);
        minerCredit[msg.sender] = 0;
        _send(msg.sender, amount);
        emit FeesWithdrawn(msg.sender, amount);
    }

    /// @notice The miners an EV owes (or owed) fees to.
    function creditors(address ev) external view returns (address[] memory) {
        return _creditors[ev];
    }

    function _clearFees(address ev, bool fromProfit) private {
        address[] storage cs = _creditors[ev];
        for (uint256 i = 0; i < cs.length; ++i) {
            uint256 amount = owedTo[ev][cs[i]];
            if (amount == 0) continue;
            owedTo[ev][cs[i]] = 0;
            minerCredit[cs[i]] += amount;
            emit FeePaid(ev, cs[i], amount, fromProfit);
        }
        delete _creditors[ev];
        owed[ev] = 0;
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert V2VTransferFailed(to, amount);
    }
}
