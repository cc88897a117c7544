// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ProofStaking} from "./ProofStaking.sol";

/**
 * @title V2VSettlement: the EV fleet's round settlement, in batches, with the miner's fee taken
 * at settlement
 * @notice Thesis section 4.3.5, eq. (4.20) and Fig. 4.5. An EV subscribes by accepting the
 * fleet's share beta of its profit owed to the round's miner (the mLAG). After a round of the
 * fleet's {ProofStaking} is closed, the operator deposits the EVs' profits (native coin) in
 * batches of at most {MAX_BATCH}: for each EV the fee beta x profit is credited to the miner that
 * sealed the round and the rest is held for the EV. The profit is confiscated exactly as long as
 * the fee is unpaid, i.e. not at all: the fee is deducted before anything is held, so a selfish
 * EV cannot keep it, and cannot lock the miner's fee by not acting (Fig. 4.5 taken to its limit;
 * docs/decisions.md). A round whose miner did not seal (or was challenged) pays no fee.
 *
 * Batches are idempotent: an EV is settled at most once per round (its rounds in increasing
 * order); an entry for an EV already settled for the round is skipped and its profit refunded
 * to the caller. Nothing can stay stuck: the EVs and miners withdraw ({withdraw}), anyone can
 * push their balances to them in batches ({release}, gas-limited, a failing recipient keeps its
 * balance), and a balance not collected within {claimWindow} blocks of its last credit can be
 * moved by anyone to the {treasury} ({sweepExpired}), which withdraws it like any account.
 * Invariant: the contract's coin = held profits + miners' fees ({totalOwed}).
 *
 * Threat notes (docs/ledger.md, tests/security/test_settlement_*.py): the operator chooses the
 * profits it deposits (the chain cannot check the V2V market's clearing); it cannot take a
 * deposited coin back. The guardian pauses {settle} only.
 */
contract V2VSettlement is AccessControlDefaultAdminRules, Pausable, ReentrancyGuard, EIP712 {
    struct Account {
        uint96 held; // profit net of fees, withdrawable
        uint96 fees; // fees received as a miner, withdrawable
        uint24 lastRound; // last round settled for this EV
        uint32 lastCredit; // block of the last credit (expiry)
        bool subscribed;
    }

    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant SUBSCRIBE_TYPEHASH = keccak256("Subscribe(address ev,uint16 betaBps)");
    /// @notice Most entries in one {settle}, {subscribeFor}, {release} or {sweepExpired}.
    uint256 public constant MAX_BATCH = 256;
    /// @notice Gas forwarded with each payment pushed by {release}.
    uint256 public constant RELEASE_GAS = 10_000;

    /// @notice The fleet's PoSOC staking contract, which elects and closes each round.
    ProofStaking public immutable staking;
    /// @notice beta of eq. (4.20) in basis points, agreed by every subscriber.
    uint16 public immutable betaBps;
    /// @notice Blocks after its last credit before an uncollected balance may go to the treasury.
    uint64 public immutable claimWindow;
    /// @notice Where expired balances go (the fleet's common fund; set by the administrator).
    address public treasury;
    /// @notice Held profits plus miners' fees: what the contract owes (its coin balance).
    uint256 public totalOwed;

    mapping(address => Account) private _accounts;

    event Subscribed(address indexed ev, uint16 betaBps);
    event Settled(uint256 indexed round, address indexed ev, address indexed miner, uint256 profit, uint256 fee);
    event SettlementSkipped(uint256 indexed round, address indexed ev, uint256 profit);
    event FeesCredited(uint256 indexed round, address indexed miner, uint256 amount);
    event Refunded(address indexed to, uint256 amount);
    event Withdrawn(address indexed account, uint256 profit, uint256 fees);
    event ReleaseFailed(address indexed account, uint256 amount);
    event Expired(address indexed account, address indexed treasury, uint256 amount);
    event TreasuryChanged(address indexed previous, address indexed treasury);

    error V2VZeroAddress();
    error V2VBadParameter(string name, uint256 given);
    error V2VBetaMismatch(uint16 expected, uint16 given);
    error V2VAlreadySubscribed(address ev);
    error V2VNotSubscribed(address ev);
    error V2VRoundNotClosed(uint256 round);
    error V2VLengthMismatch(uint256 evs, uint256 profits);
    error V2VEmptyList();
    error V2VBatchTooLarge(uint256 given, uint256 max);
    error V2VAmountTooLarge(uint256 given, uint256 max);
    error V2VWrongValue(uint256 expected, uint256 sent);
    error V2VNothingToWithdraw(address account);
    error V2VTransferFailed(address account, uint256 amount);
    error V2VBadSignature(address expected, address recovered);

    /**
     * @param admin Holds DEFAULT_ADMIN_ROLE (rotates the operator and guardian, sets the
     * treasury); transferring it is two-step and waits `adminDelay` seconds.
     * @param adminDelay Delay of an administrator transfer, seconds.
     * @param operator The fleet's aggregator, who deposits the rounds' profits.
     * @param guardian May pause {settle}.
     * @param staking_ The fleet's PoSOC staking contract.
     * @param betaBps_ beta of eq. (4.20), in basis points (1..10000).
     * @param claimWindow_ Blocks before an uncollected balance expires (>= 1).
     * @param treasury_ Destination of expired balances.
     * Requirements: non-zero addresses; parameters in range.
     */
    constructor(
        address admin,
        uint48 adminDelay,
        address operator,
        address guardian,
        ProofStaking staking_,
        uint16 betaBps_,
        uint64 claimWindow_,
        address treasury_
    ) AccessControlDefaultAdminRules(adminDelay, admin) EIP712("V2VSettlement", "1") {
        if (operator == address(0) || guardian == address(0) || address(staking_) == address(0)
                || treasury_ == address(0)) revert V2VZeroAddress();
        if (betaBps_ == 0 || betaBps_ > 10_000) revert V2VBadParameter("betaBps", betaBps_);
        if (claimWindow_ == 0 || claimWindow_ > type(uint32).max) revert V2VBadParameter("claimWindow", claimWindow_);
        _grantRole(OPERATOR_ROLE, operator);
        _grantRole(GUARDIAN_ROLE, guardian);
        staking = staking_;
        betaBps = betaBps_;
        claimWindow = claimWindow_;
        treasury = treasury_;
        emit TreasuryChanged(address(0), treasury_);
    }

    // ------------------------------------------------------------------ administration

    /// @notice Stop {settle}. Requirements: GUARDIAN_ROLE.
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resume {settle}. Requirements: GUARDIAN_ROLE.
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        _unpause();
    }

    /// @notice Change where expired balances go. Requirements: DEFAULT_ADMIN_ROLE; non-zero address.
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert V2VZeroAddress();
        emit TreasuryChanged(treasury, treasury_);
        treasury = treasury_;
    }

    // ------------------------------------------------------------------ subscription

    /// @notice Subscribe, accepting the fee share `acceptedBetaBps` (must equal {betaBps}).
    function subscribe(uint16 acceptedBetaBps) external {
        _subscribe(msg.sender, acceptedBetaBps);
    }

    /**
     * @notice Relay subscriptions, each signed by its EV (EIP-712 `Subscribe(ev, betaBps)` in this
     * contract's domain, signature as (r, yParityAndS)).
     * Requirements: equal lists of at most {MAX_BATCH}; valid signatures; EVs not subscribed.
     */
    function subscribeFor(address[] calldata evs, bytes32[] calldata sigR, bytes32[] calldata sigVS) external {
        uint256 n = _batch(evs.length);
        if (sigR.length != n || sigVS.length != n) revert V2VLengthMismatch(n, sigR.length);
        for (uint256 i = 0; i < n; ++i) {
            bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(SUBSCRIBE_TYPEHASH, evs[i], betaBps)));
            address signer = ECDSA.recover(digest, sigR[i], sigVS[i]);
            if (signer != evs[i]) revert V2VBadSignature(evs[i], signer);
            _subscribe(evs[i], betaBps);
        }
    }

    // ------------------------------------------------------------------ settlement

    /**
     * @notice Settle a batch of a closed round: deposit each EV's profit (msg.value is their sum);
     * beta x profit goes to the miner that sealed the round (none if nobody sealed it, and the
     * miner owes itself nothing), the rest is held for the EV. An EV already settled for this or a
     * later round is skipped and its profit refunded to the caller.
     * Requirements: OPERATOR_ROLE; not paused; the round is closed in {staking}; equal lists of at
     * most {MAX_BATCH}; every EV subscribed; each profit below 2^96; msg.value = sum of profits.
     */
    function settle(uint256 round, address[] calldata evs, uint256[] calldata profits)
        external
        payable
        onlyRole(OPERATOR_ROLE)
        whenNotPaused
        nonReentrant
    {
        address miner = _closedRoundMiner(round);
        uint256 n = _batch(evs.length);
        if (profits.length != n) revert V2VLengthMismatch(n, profits.length);
        uint256 sum = _sum(profits);
        if (sum != msg.value) revert V2VWrongValue(sum, msg.value);
        uint256 skipped = 0;
        uint256 fees = 0;
        for (uint256 i = 0; i < n; ++i) {
            (uint256 s, uint256 f) = _settleOne(round, miner, evs[i], profits[i]);
            skipped += s;
            fees += f;
        }
        if (fees > 0) {
            Account storage m = _accounts[miner];
            m.fees = uint96(_u96(m.fees + fees));
            m.lastCredit = uint32(block.number);
            emit FeesCredited(round, miner, fees);
        }
        totalOwed += sum - skipped;
        if (skipped > 0) {
            _send(msg.sender, skipped);
            emit Refunded(msg.sender, skipped);
        }
    }

    // ------------------------------------------------------------------ collecting

    /// @notice Withdraw the caller's held profit and fees. Requirements: something to withdraw.
    function withdraw() external nonReentrant {
        Account storage a = _accounts[msg.sender];
        uint256 profit = a.held;
        uint256 fees = a.fees;
        if (profit + fees == 0) revert V2VNothingToWithdraw(msg.sender);
        a.held = 0;
        a.fees = 0;
        totalOwed -= profit + fees;
        _send(msg.sender, profit + fees);
        emit Withdrawn(msg.sender, profit, fees);
    }

    /**
     * @notice Push their held profit and fees to `accounts` (anyone may call), forwarding
     * {RELEASE_GAS} gas each; a recipient that refuses keeps its balance ({ReleaseFailed}).
     * Requirements: at most {MAX_BATCH} accounts.
     */
    function release(address[] calldata accounts) external nonReentrant {
        uint256 n = _batch(accounts.length);
        for (uint256 i = 0; i < n; ++i) {
            Account storage a = _accounts[accounts[i]];
            uint256 profit = a.held;
            uint256 fees = a.fees;
            uint256 amount = profit + fees;
            if (amount == 0) continue;
            a.held = 0;
            a.fees = 0;
            if (_push(accounts[i], amount)) {
                totalOwed -= amount;
                emit Withdrawn(accounts[i], profit, fees);
            } else {
                a.held = uint96(profit);
                a.fees = uint96(fees);
                emit ReleaseFailed(accounts[i], amount);
            }
        }
    }

    /**
     * @notice Move balances left uncollected for more than {claimWindow} blocks after their last
     * credit to the {treasury}'s account (anyone may call; the treasury withdraws like any account).
     * Requirements: at most {MAX_BATCH} accounts (others are skipped: nothing due, not expired,
     * or the treasury itself).
     */
    function sweepExpired(address[] calldata accounts) external {
        uint256 n = _batch(accounts.length);
        address t = treasury;
        uint256 moved = 0;
        for (uint256 i = 0; i < n; ++i) {
            address who = accounts[i];
            Account storage a = _accounts[who];
            uint256 amount = uint256(a.held) + a.fees;
            if (amount == 0 || who == t || block.number <= uint256(a.lastCredit) + claimWindow) continue;
            a.held = 0;
            a.fees = 0;
            moved += amount;
            emit Expired(who, t, amount);
        }
        if (moved > 0) {
            Account storage ta = _accounts[t];
            ta.held = uint96(_u96(ta.held + moved));
            ta.lastCredit = uint32(block.number);
        }
    }

    // ------------------------------------------------------------------ queries

    function subscribed(address ev) external view returns (bool) {
        return _accounts[ev].subscribed;
    }

    /// @notice Profit held for `ev`, net of fees (withdrawable).
    function held(address ev) external view returns (uint256) {
        return _accounts[ev].held;
    }

    /// @notice Fees credited to `miner` and not yet withdrawn.
    function minerCredit(address miner) external view returns (uint256) {
        return _accounts[miner].fees;
    }

    /// @notice (held, fees, last round settled, block of the last credit, subscribed).
    function account(address who) external view returns (uint256, uint256, uint256, uint256, bool) {
        Account storage a = _accounts[who];
        return (a.held, a.fees, a.lastRound, a.lastCredit, a.subscribed);
    }

    /// @notice The EIP-712 hash an EV signs to subscribe.
    function subscribeHash(address ev) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SUBSCRIBE_TYPEHASH, ev, betaBps)));
    }

    // ------------------------------------------------------------------ internals

    function _closedRoundMiner(uint256 round) private view returns (address miner) {
        bool closed;
        (closed, miner) = staking.outcome(round);
        if (!closed) revert V2VRoundNotClosed(round);
        if (round > type(uint24).max) revert V2VAmountTooLarge(round, type(uint24).max);
    }

    /// @dev Sum of at most MAX_BATCH amounts below 2^96 each: no overflow.
    function _sum(uint256[] calldata amounts) private pure returns (uint256 sum) {
        for (uint256 i = 0; i < amounts.length; ++i) {
            sum += _u96(amounts[i]);
        }
    }

    /// @dev One EV of a batch: (profit skipped, fee to the miner).
    function _settleOne(uint256 round, address miner, address ev, uint256 profit)
        private
        returns (uint256 skipped, uint256 fee)
    {
        Account storage a = _accounts[ev];
        if (!a.subscribed) revert V2VNotSubscribed(ev);
        if (a.lastRound >= round) {
            emit SettlementSkipped(round, ev, profit);
            return (profit, 0);
        }
        fee = (miner != address(0) && ev != miner) ? (profit * betaBps) / 10_000 : 0;
        a.held = uint96(_u96(a.held + profit - fee));
        a.lastRound = uint24(round);
        a.lastCredit = uint32(block.number);
        emit Settled(round, ev, miner, profit, fee);
    }

    function _subscribe(address ev, uint16 acceptedBetaBps) private {
        if (acceptedBetaBps != betaBps) revert V2VBetaMismatch(betaBps, acceptedBetaBps);
        Account storage a = _accounts[ev];
        if (a.subscribed) revert V2VAlreadySubscribed(ev);
        a.subscribed = true;
        emit Subscribed(ev, acceptedBetaBps);
    }

    function _batch(uint256 n) private pure returns (uint256) {
        if (n == 0) revert V2VEmptyList();
        if (n > MAX_BATCH) revert V2VBatchTooLarge(n, MAX_BATCH);
        return n;
    }

    function _u96(uint256 x) private pure returns (uint256) {
        if (x > type(uint96).max) revert V2VAmountTooLarge(x, type(uint96).max);
        return x;
    }

    /// @dev A payment with RELEASE_GAS gas that copies no return data (a recipient cannot bomb the loop).
    function _push(address to, uint256 amount) private returns (bool ok) {
        uint256 g = RELEASE_GAS;
        assembly ("memory-safe") {
            ok := call(g, to, amount, 0, 0, 0, 0)
        }
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert V2VTransferFailed(to, amount);
    }
}
