// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {EPOS} from "./EPOS.sol";
import {UPOS} from "./UPOS.sol";

/**
 * @title ProofStaking: proof-score staking, miner election, slashing and reward sharing
 * @notice One contract per market: Proof of Energy Generation for the prosumer community
 * (thesis chapter 3: eqs. 3.16, 3.17, 3.24 and section 3.4.5) or Proof of State of Charge for
 * the EV fleet (chapter 4: eqs. 4.17-4.18). A round, driven by the market's operator (the
 * aggregator that runs the off-chain computation):
 *  1. {openRound} commits to the election seed before anyone stakes;
 *  2. {credit} mints the round's proof scores as EPOS to the members;
 *  3. {stake}: each member stakes EPOS on itself (a validator, e.g. its coalition's best
 *     scorer) or with a validator (a delegator);
 *  4. {elect} reveals the seed and draws the miner among the validators with probability
 *     proportional to the stake behind them (eq. 3.16 / 4.18); anyone can replay the draw
 *     with {pick};
 *  5. {slash}: the elected miner refused to seal the block: `slashBps` of the stake behind it
 *     is burned, it is excluded, and {elect} draws again (eq. 3.24);
 *  6. {payReward} mints the mining reward in UPOS to the miner's coalition (eq. 3.17), or
 *     {closeRound} closes without one;
 *  7. {unstake}: members take back what is left of their stake once the round is closed.
 * Amounts are in token units (18 decimals): one EPOS is one kWh of proof score, one UPOS one
 * kWh of energy credit.
 */
contract ProofStaking {
    enum Phase {
        None,
        Staking,
        Electing,
        Elected,
        Closed
    }

    struct RoundInfo {
        Phase phase;
        bytes32 seedCommit;
        address miner;
        uint32 attempts;
        uint256 members;
        uint256 validators;
        uint256 credited;
        uint256 staked;
        uint256 slashedAmount;
        uint256 reward;
        uint256 tradedWh;
    }

    /// @notice The proof-score token this contract mints, stakes and burns.
    EPOS public immutable epos;
    /// @notice The energy credit mining rewards are paid in (zero: no on-chain reward).
    UPOS public immutable upos;
    /// @notice The market's aggregator, the only account that drives rounds.
    address public immutable operator;
    /// @notice Share of a refusing miner's coalition stake burned, in basis points.
    uint16 public immutable slashBps;
    /// @notice "PoEG" or "PoSOC" (informational).
    string public kind;
    /// @notice The last round opened (rounds are numbered from 1).
    uint256 public currentRound;

    mapping(uint256 => RoundInfo) private _rounds;
    mapping(uint256 => address[]) private _members;
    mapping(uint256 => address[]) private _validators;
    mapping(uint256 => mapping(address => address[])) private _backers;
    /// @notice Whether an account was credited a score in a round.
    mapping(uint256 => mapping(address => bool)) public isMember;
    /// @notice Proof score credited to a member in a round.
    mapping(uint256 => mapping(address => uint256)) public scoreOf;
    /// @notice The validator a member staked with in a round (itself for a validator).
    mapping(uint256 => mapping(address => address)) public validatorOf;
    /// @notice A member's stake in a round, net of slashing and of unstaking.
    mapping(uint256 => mapping(address => uint256)) public stakeOf;
    /// @notice Stake behind a validator (its own and its delegators'), net of slashing.
    mapping(uint256 => mapping(address => uint256)) public stakeBehind;
    /// @notice Whether a validator was slashed in a round (and excluded from its election).
    mapping(uint256 => mapping(address => bool)) public slashed;
    /// @notice UPOS reward paid to a member for a round.
    mapping(uint256 => mapping(address => uint256)) public rewardOf;

    event RoundOpened(uint256 indexed round, bytes32 seedCommit);
    event ScoreCredited(uint256 indexed round, address indexed member, uint256 score);
    event Staked(uint256 indexed round, address indexed member, address indexed validator, uint256 amount);
    event MinerElected(uint256 indexed round, address indexed miner, uint256 weight, uint256 totalWeight,
        uint32 attempt);
    event MinerSlashed(uint256 indexed round, address indexed miner, uint256 burned);
    event RewardShared(uint256 indexed round, address indexed member, uint256 amount);
    event RoundClosed(uint256 indexed round, address indexed miner, uint256 reward);
    event Unstaked(uint256 indexed round, address indexed member, uint256 amount);
    event TradeRecorded(uint256 indexed round, address indexed from, address indexed to, uint256 energyWh,
        uint256 lossWh);

    error StakingNotOperator(address account);
    error StakingZeroAddress();
    error StakingBadSlashBps(uint256 given);
    error StakingRoundStillOpen(uint256 round);
    error StakingWrongPhase(uint256 round, Phase phase);
    error StakingLengthMismatch(uint256 accounts, uint256 values);
    error StakingEmptyList();
    error StakingDuplicateMember(address member);
    error StakingNotMember(uint256 round, address account);
    error StakingZeroAmount();
    error StakingInsufficientEPOS(address account, uint256 available, uint256 needed);
    error StakingNotValidator(uint256 round, address validator);
    error StakingAlreadyStakedWith(address member, address validator);
    error StakingSeedMismatch(uint256 round);
    error StakingNoCandidate(uint256 round);
    error StakingNoRewardToken();
    error StakingNotInMinerCoalition(address account);
    error StakingNothingStaked(uint256 round, address account);
    error StakingSelfTrade(address account);

    modifier onlyOperator() {
        if (msg.sender != operator) revert StakingNotOperator(msg.sender);
        _;
    }

    /**
     * @param operator_ The market's aggregator.
     * @param upos_ Token of mining rewards (zero address: the market pays no on-chain reward).
     * @param slashBps_ Share of a refusing miner's coalition stake burned (0..10000).
     * @param kind_ "PoEG" or "PoSOC".
     */
    constructor(address operator_, UPOS upos_, uint16 slashBps_, string memory kind_) {
        if (operator_ == address(0)) revert StakingZeroAddress();
        if (slashBps_ > 10_000) revert StakingBadSlashBps(slashBps_);
        operator = operator_;
        upos = upos_;
        slashBps = slashBps_;
        kind = kind_;
        epos = new EPOS();
    }

    // ------------------------------------------------------------------ operator

    /**
     * @notice Open the next round, committing to the election seed: `seedCommit` =
     * keccak256(abi.encode(seed)). Requirements: the previous round is closed.
     */
    function openRound(bytes32 seedCommit) external onlyOperator returns (uint256 round) {
        uint256 last = currentRound;
        if (last != 0 && _rounds[last].phase != Phase.Closed) revert StakingRoundStillOpen(last);
        round = last + 1;
        currentRound = round;
        RoundInfo storage r = _rounds[round];
        r.phase = Phase.Staking;
        r.seedCommit = seedCommit;
        emit RoundOpened(round, seedCommit);
    }

    /**
     * @notice Credit the current round's proof scores as EPOS (may be called in batches).
     * Requirements: staking phase; equal, non-empty lists; no zero address; each member
     * credited once per round.
     */
    function credit(address[] calldata accounts, uint256[] calldata scores) external onlyOperator {
        uint256 round = currentRound;
        RoundInfo storage r = _rounds[round];
        if (r.phase != Phase.Staking) revert StakingWrongPhase(round, r.phase);
        if (accounts.length != scores.length) revert StakingLengthMismatch(accounts.length, scores.length);
        if (accounts.length == 0) revert StakingEmptyList();
        uint256 total;
        for (uint256 i = 0; i < accounts.length; ++i) {
            address m = accounts[i];
            if (m == address(0)) revert StakingZeroAddress();
            if (isMember[round][m]) revert StakingDuplicateMember(m);
            isMember[round][m] = true;
            scoreOf[round][m] = scores[i];
            _members[round].push(m);
            total += scores[i];
            if (scores[i] > 0) epos.mint(m, scores[i]);
            emit ScoreCredited(round, m, scores[i]);
        }
        r.members += accounts.length;
        r.credited += total;
    }

    /**
     * @notice Reveal the seed and draw the miner among the round's validators that were not
     * slashed, with probability proportional to the stake behind each (eq. 3.16 / 4.18).
     * Requirements: staking or electing phase; keccak256(abi.encode(seed)) is the commitment;
     * some candidate has stake.
     */
    function elect(bytes32 seed) external onlyOperator returns (address miner) {
        uint256 round = currentRound;
        RoundInfo storage r = _rounds[round];
        if (r.phase != Phase.Staking && r.phase != Phase.Electing) revert StakingWrongPhase(round, r.phase);
        if (keccak256(abi.encode(seed)) != r.seedCommit) revert StakingSeedMismatch(round);
        uint256 weight;
        uint256 total;
        (miner, weight, total) = pick(round, seed, r.attempts);
        if (miner == address(0)) revert StakingNoCandidate(round);
        r.miner = miner;
        r.phase = Phase.Elected;
        emit MinerElected(round, miner, weight, total, r.attempts);
        r.attempts += 1;
    }

    /**
     * @notice The elected miner refused to seal the block (eq. 3.24): burn `slashBps` of every
     * stake behind it, exclude it from this round's election and reopen the election.
     */
    function slash() external onlyOperator {
        uint256 round = currentRound;
        RoundInfo storage r = _rounds[round];
        if (r.phase != Phase.Elected) revert StakingWrongPhase(round, r.phase);
        address miner = r.miner;
        address[] storage bk = _backers[round][miner];
        uint256 burned;
        for (uint256 i = 0; i < bk.length; ++i) {
            uint256 s = stakeOf[round][bk[i]];
            uint256 cut = (s * slashBps) / 10_000;
            stakeOf[round][bk[i]] = s - cut;
            burned += cut;
        }
        stakeBehind[round][miner] -= burned;
        slashed[round][miner] = true;
        r.slashedAmount += burned;
        r.miner = address(0);
        r.phase = Phase.Electing;
        if (burned > 0) epos.burn(address(this), burned);
        emit MinerSlashed(round, miner, burned);
    }

    /**
     * @notice Pay the mining reward in UPOS to members of the elected miner's coalition (the
     * members that staked with it, the miner included) and close the round. The shares are
     * the market's rule (Shapley values, eq. 3.17, or pro rata to stake).
     * Requirements: elected phase; a reward token; equal lists; every recipient staked with
     * the miner.
     */
    function payReward(address[] calldata recipients, uint256[] calldata amounts) external onlyOperator {
        uint256 round = currentRound;
        RoundInfo storage r = _rounds[round];
        if (r.phase != Phase.Elected) revert StakingWrongPhase(round, r.phase);
        if (address(upos) == address(0)) revert StakingNoRewardToken();
        if (recipients.length != amounts.length) revert StakingLengthMismatch(recipients.length, amounts.length);
        address miner = r.miner;
        uint256 total;
        for (uint256 i = 0; i < recipients.length; ++i) {
            address m = recipients[i];
            if (validatorOf[round][m] != miner) revert StakingNotInMinerCoalition(m);
            if (amounts[i] == 0) continue;
            rewardOf[round][m] += amounts[i];
            total += amounts[i];
            upos.mint(m, amounts[i]);
            emit RewardShared(round, m, amounts[i]);
        }
        r.reward = total;
        r.phase = Phase.Closed;
        emit RoundClosed(round, miner, total);
    }

    /**
     * @notice Record the round's energy transactions in the ledger (prosumer to prosumer, or
     * with the grid: the zero address stands for the distribution company). Energy and loss
     * in Wh. Requirements: the round is open (not closed); equal lists; from != to.
     */
    function recordTrades(
        address[] calldata from,
        address[] calldata to,
        uint256[] calldata energyWh,
        uint256[] calldata lossWh
    ) external onlyOperator {
        uint256 round = currentRound;
        RoundInfo storage r = _rounds[round];
        if (r.phase == Phase.None || r.phase == Phase.Closed) revert StakingWrongPhase(round, r.phase);
        uint256 n = from.length;
        if (to.length != n || energyWh.length != n || lossWh.length != n) {
            revert StakingLengthMismatch(n, to.length == n ? (energyWh.length == n ? lossWh.length : energyWh.length)
                : to.length);
        }
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            if (from[i] == to[i]) revert StakingSelfTrade(from[i]);
            if (energyWh[i] == 0) revert StakingZeroAmount();
            total += energyWh[i];
            emit TradeRecorded(round, from[i], to[i], energyWh[i], lossWh[i]);
        }
        r.tradedWh += total;
    }

    /// @notice Close the current round without an on-chain reward (any phase before closed).
    function closeRound() external onlyOperator {
        uint256 round = currentRound;
        RoundInfo storage r = _rounds[round];
        if (r.phase == Phase.None || r.phase == Phase.Closed) revert StakingWrongPhase(round, r.phase);
        r.phase = Phase.Closed;
        emit RoundClosed(round, r.miner, 0);
    }

    // ------------------------------------------------------------------ members

    /**
     * @notice Stake `amount` EPOS of the caller's balance in the current round, on itself
     * (`validator` = caller: becomes a validator) or with an existing validator (delegation).
     * A zero amount joins the validator's coalition without stake (a member with no proof
     * score can still share the coalition's reward).
     * Requirements: staking phase; the caller is a member of the round; amount covered by its
     * EPOS balance; one validator per member per round.
     */
    function stake(address validator, uint256 amount) external {
        uint256 round = currentRound;
        RoundInfo storage r = _rounds[round];
        if (r.phase != Phase.Staking) revert StakingWrongPhase(round, r.phase);
        if (!isMember[round][msg.sender]) revert StakingNotMember(round, msg.sender);
        if (validator == address(0)) revert StakingZeroAddress();
        address current = validatorOf[round][msg.sender];
        if (current != address(0) && current != validator) revert StakingAlreadyStakedWith(msg.sender, current);
        if (validator != msg.sender && validatorOf[round][validator] != validator) {
            revert StakingNotValidator(round, validator);
        }
        uint256 balance = epos.balanceOf(msg.sender);
        if (balance < amount) revert StakingInsufficientEPOS(msg.sender, balance, amount);
        if (current == address(0)) {
            validatorOf[round][msg.sender] = validator;
            _backers[round][validator].push(msg.sender);
            if (validator == msg.sender) {
                _validators[round].push(msg.sender);
                r.validators += 1;
            }
        }
        stakeOf[round][msg.sender] += amount;
        stakeBehind[round][validator] += amount;
        r.staked += amount;
        if (amount > 0) epos.stakingTransfer(msg.sender, address(this), amount);
        emit Staked(round, msg.sender, validator, amount);
    }

    /// @notice Take back the caller's remaining stake of a closed round.
    function unstake(uint256 round) external {
        if (_rounds[round].phase != Phase.Closed) revert StakingWrongPhase(round, _rounds[round].phase);
        uint256 amount = stakeOf[round][msg.sender];
        if (amount == 0) revert StakingNothingStaked(round, msg.sender);
        stakeOf[round][msg.sender] = 0;
        epos.stakingTransfer(address(this), msg.sender, amount);
        emit Unstaked(round, msg.sender, amount);
    }

    // ------------------------------------------------------------------ queries

    /**
     * @notice The draw {elect} makes for `seed` at election attempt `attempt`: a validator
     * with probability stakeBehind / total over the validators not slashed (zero if none).
     */
    function pick(uint256 round, bytes32 seed, uint32 attempt)
        public
        view
        returns (address miner, uint256 weight, uint256 total)
    {
        address[] storage vs = _validators[round];
        for (uint256 i = 0; i < vs.length; ++i) {
            if (!slashed[round][vs[i]]) total += stakeBehind[round][vs[i]];
        }
        if (total == 0) return (address(0), 0, 0);
        uint256 draw = uint256(keccak256(abi.encode(seed, round, attempt))) % total;
        uint256 acc;
        for (uint256 i = 0; i < vs.length; ++i) {
            if (slashed[round][vs[i]]) continue;
            uint256 w = stakeBehind[round][vs[i]];
            acc += w;
            if (draw < acc) return (vs[i], w, total);
        }
    }

    /// @notice The elected miner of a round (zero while none is elected).
    function minerOf(uint256 round) external view returns (address) {
        Phase p = _rounds[round].phase;
        return (p == Phase.Elected || p == Phase.Closed) ? _rounds[round].miner : address(0);
    }

    function roundInfo(uint256 round) external view returns (RoundInfo memory) {
        return _rounds[round];
    }

    function members(uint256 round) external view returns (address[] memory) {
        return _members[round];
    }

    function validators(uint256 round) external view returns (address[] memory) {
        return _validators[round];
    }

    function backers(uint256 round, address validator) external view returns (address[] memory) {
        return _backers[round][validator];
    }
}
