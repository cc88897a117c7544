// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {EPOS, IProofScoreSource} from "./EPOS.sol";
import {UPOS} from "./UPOS.sol";

/**
 * @title ProofStaking: proof-score staking, a miner election nobody can steer, slashing on
 * evidence, and the mining reward of eq. (3.23)
 * @notice One contract per market: Proof of Energy Generation for the prosumer community
 * (thesis chapter 3: eqs. 3.16, 3.17, 3.23, 3.24, Lemma 2, section 3.4.5) or Proof of State of
 * Charge for the EV fleet (chapter 4: eqs. 4.17-4.18). A round:
 *  1. {openRound} (operator): crediting opens;
 *  2. {credit} (operator, in pages): each member's proof score (its EPOS for the round) and its
 *     energy saving; the member's fee delta x saving goes to the round's reward pool M_r
 *     (eq. 3.23; Lemma 2: the fee is a transaction out of the member's saving);
 *  3. {openStaking} (operator): crediting closes, staking opens for `stakeWindow` blocks;
 *  4. {stake} / {stakeFor} (each member, or a relayer with the member's EIP-712 signature): the
 *     member stakes exactly its credited score, on itself (a validator, which commits
 *     keccak256(abi.encode(validator, round, secret)) to a secret drawn from its own CSPRNG) or
 *     with a validator (a delegator), so a validator's weight is its coalition's proof score
 *     (eq. 3.16 / 4.18). Staking closes at its deadline, or as soon as every member staked;
 *  5. {reveal} (anyone holding the secret), for `revealWindow` blocks: the secrets are XORed
 *     (order does not matter). A validator that does not reveal is excluded and its coalition's
 *     stake burned (as for a refusing miner, eq. 3.24: delegators share their validator's fate,
 *     and withholding costs exactly the stake it takes out of the draw);
 *  6. {elect} (anyone, after the reveal deadline): seed = keccak256(secrets, the chain's
 *     randomness of the block right after the reveal deadline: block.prevrandao in that very
 *     block, else its blockhash). Draws walk the staking order with binary search (O(log n)) and
 *     skip excluded validators (rejection sampling: each eligible validator wins with
 *     probability stake / eligible stake, eq. 3.16 and 3.24); at most {MAX_DRAWS} draws per call;
 *  7. {seal} (the miner's EIP-712 signature, submitted by anyone) before `sealWindow` blocks
 *     pass: the round's record digest = keccak256(round, digest of the recorded trades, payload)
 *     (payload: the fleet's global-model hash and V2V trades, or the community's day record);
 *  8. {slash} (anyone, after the seal deadline, if the miner did not seal): the miner's coalition
 *     stake is burned, the coalition excluded and the election continues (eq. 3.24);
 *     {challenge} (anyone, within `challengeWindow` blocks of the seal): the miner signed another
 *     digest for this round (equivocation): its coalition stake is burned, the reward withheld;
 *  9. {payReward} (operator, Shapley shares, eq. 3.17) after the challenge window and within
 *     `rewardWindow` blocks; then {claimReward} (each coalition member, pro rata to stake).
 *     At most M_r is minted in UPOS, only to the sealing miner's coalition.
 * The operator cannot credit after staking opens, cannot slash, cannot close or reopen a round
 * and cannot choose the randomness; it drives pages and phase openings. The guardian can pause
 * the operator's entry points (never the members', the election's or the claims). Roles are
 * rotated by the administrator (two-step, delayed transfer of the administrator role).
 * Amounts are in token units (18 decimals): one EPOS is one kWh of proof score, one UPOS one
 * kWh of energy credit.
 *
 * Threat notes (docs/ledger.md, tests/security/test_staking_*.py): the last revealer can
 * withhold its secret (its coalition is then excluded and its stake burned); the proposer of the block
 * right after the reveal deadline can skip its slot; what the chain cannot check is that the
 * credited scores and savings are the PoEG/PoSOC computation's.
 */
contract ProofStaking is AccessControlDefaultAdminRules, Pausable, EIP712, IProofScoreSource {
    enum Phase {
        None,
        Crediting,
        Staking,
        Revealing,
        Electing,
        Elected,
        Sealed,
        Closed
    }

    enum ValidatorStatus {
        None,
        Committed,
        Revealed,
        Slashed
    }

    enum SlashReason {
        Unsealed,
        Equivocation
    }

    struct Round {
        Phase phase; // stored phase; {phaseOf} derives Revealing, Electing and Closed from deadlines
        bool challenged;
        uint32 attempts;
        uint32 members;
        uint32 stakers;
        uint32 validators;
        uint32 revealed;
        uint64 stakeEnd;
        uint64 revealDeadline;
        uint64 sealDeadline;
        uint64 challengeEnd;
        address miner;
        uint96 credited;
        uint96 staked;
        uint96 eligible;
        uint96 revealedStake; // stake behind the validators that revealed (never reduced)
        uint96 burned;
        uint96 feePool;
        uint96 rewardPaid;
        uint96 paidStake;
        uint128 tradedWh;
        bytes32 entropy;
        bytes32 seed;
        bytes32 tradesDigest;
        bytes32 digest;
    }

    /// @dev One slot per member and round; a validator's status lives here too.
    struct Member {
        uint96 score;
        uint96 savings;
        uint32 seg; // index + 1 of its stake segment (0: not staked)
        bool credited;
        bool rewarded;
        ValidatorStatus status; // None for a delegator
    }

    /// @dev What delegators staked with a validator (written only when some member delegates).
    struct Delegation {
        uint96 stake;
        uint32 backers;
    }

    /// @dev One stake in staking order: the draw hits [previous end, end).
    struct Segment {
        uint96 end;
        address validator;
    }

    /// @notice A member's signed stake, relayed by anyone ({stakeFor}).
    struct StakeIntent {
        address member;
        address validator;
        bytes32 commitment;
        bytes32 sigR;
        bytes32 sigVS;
    }

    /// @notice One energy transaction of the round (the zero address is the grid), Wh.
    struct Trade {
        address from;
        address to;
        uint256 energyWh;
        uint256 lossWh;
    }

    /// @notice The view {roundInfo} returns.
    struct RoundView {
        Phase phase;
        address miner;
        uint32 attempts;
        uint32 members;
        uint32 stakers;
        uint32 validators;
        uint32 revealed;
        uint256 credited;
        uint256 staked;
        uint256 eligible;
        uint256 burned;
        uint256 feePool;
        uint256 rewardPaid;
        uint256 tradedWh;
        uint64 stakeEnd;
        uint64 revealDeadline;
        uint64 sealDeadline;
        uint64 challengeEnd;
        bytes32 seed;
        bytes32 digest;
        bool challenged;
    }

    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant STAKE_TYPEHASH = keccak256("Stake(uint256 round,address validator,bytes32 commitment)");
    bytes32 public constant SEAL_TYPEHASH = keccak256("Seal(uint256 round,bytes32 digest)");
    /// @notice Share of a slashed stake that is burned (eq. 3.24: all of it).
    uint16 public constant slashBps = 10_000;
    /// @notice Most entries in one {credit}, {stakeFor}, {reveal}, {recordTrades} or {payReward}.
    uint256 public constant MAX_BATCH = 256;
    /// @notice Most draws in one {elect} (or {slash}) call; the election continues in the next call.
    uint32 public constant MAX_DRAWS = 32;

    /// @notice This round's proof scores, read as EPOS (non-transferable, bound to the round).
    EPOS public immutable epos;
    /// @notice The energy credit mining rewards are paid in (zero: no on-chain reward).
    UPOS public immutable upos;
    /// @notice delta of eq. (3.23) in basis points: a member's fee is delta x its saving.
    uint16 public immutable deltaBps;
    uint64 public immutable stakeWindow;
    uint64 public immutable revealWindow;
    uint64 public immutable sealWindow;
    uint64 public immutable challengeWindow;
    uint64 public immutable rewardWindow;
    /// @notice "PoEG" or "PoSOC" (informational).
    string public kind;
    /// @notice The last round opened (rounds are numbered from 1).
    uint256 public currentRound;

    mapping(uint256 => Round) private _rounds;
    mapping(uint256 => mapping(address => Member)) private _members;
    mapping(uint256 => mapping(address => Delegation)) private _delegations;
    mapping(uint256 => mapping(address => bytes32)) private _commitments;
    mapping(uint256 => Segment[]) private _segments;

    event RoundOpened(uint256 indexed round);
    event ScoreCredited(uint256 indexed round, address indexed member, uint256 score, uint256 savings, uint256 fee);
    event StakingOpened(uint256 indexed round, uint64 stakeDeadline, uint256 members, uint256 credited,
        uint256 feePool);
    event Staked(uint256 indexed round, address indexed member, address indexed validator, uint256 amount,
        bytes32 commitment);
    event StakingClosed(uint256 indexed round, uint64 revealDeadline, uint256 stakers, uint256 staked);
    event SecretRevealed(uint256 indexed round, address indexed validator, bytes32 secret);
    event SeedDrawn(uint256 indexed round, bytes32 seed, bytes32 entropy, bytes32 beacon, uint256 eligible);
    event MinerElected(uint256 indexed round, address indexed miner, uint256 weight, uint256 totalWeight,
        uint32 attempt);
    event ElectionPending(uint256 indexed round, uint32 attempts);
    event RoundSealed(uint256 indexed round, address indexed miner, bytes32 digest, bytes32 payload);
    event MinerSlashed(uint256 indexed round, address indexed miner, uint256 burned, SlashReason reason);
    event RewardShared(uint256 indexed round, address indexed member, uint256 amount);
    event RoundClosed(uint256 indexed round, address indexed miner, uint256 reward);
    event TradeRecorded(uint256 indexed round, address indexed from, address indexed to, uint256 energyWh,
        uint256 lossWh);

    error StakingZeroAddress();
    error StakingBadParameter(string name, uint256 given);
    error StakingRoundStillOpen(uint256 round, Phase phase);
    error StakingWrongPhase(uint256 round, Phase phase);
    error StakingLengthMismatch(uint256 accounts, uint256 values);
    error StakingEmptyList();
    error StakingBatchTooLarge(uint256 given, uint256 max);
    error StakingAmountTooLarge(uint256 given, uint256 max);
    error StakingDuplicateMember(address member);
    error StakingNotMember(uint256 round, address account);
    error StakingAlreadyStaked(uint256 round, address member);
    error StakingNotValidator(uint256 round, address validator);
    error StakingMissingCommitment(address validator);
    error StakingUnexpectedCommitment(address delegator);
    error StakingBadSignature(address expected, address recovered);
    error StakingNotCommitted(uint256 round, address validator);
    error StakingBadReveal(uint256 round, address validator);
    error StakingSealWindowOpen(uint256 round, uint64 sealDeadline);
    error StakingSealDeadlinePassed(uint256 round, uint64 sealDeadline);
    error StakingNotChallengeable(uint256 round);
    error StakingSameDigest(uint256 round);
    error StakingNoRewardToken();
    error StakingRewardWindow(uint256 round, uint64 opens, uint64 closes);
    error StakingRewardExceeded(uint256 round, uint256 pool, uint256 requested);
    error StakingNotInMinerCoalition(address account);
    error StakingAlreadyRewarded(uint256 round, address member);
    error StakingNothingToClaim(uint256 round, address account);
    error StakingSelfTrade(address account);
    error StakingZeroAmount();

    modifier onlyOperator() {
        _checkRole(OPERATOR_ROLE);
        _;
    }

    /**
     * @param admin Holds DEFAULT_ADMIN_ROLE (grants and revokes the operator and guardian roles);
     * transferring it is two-step and waits `adminDelay` seconds.
     * @param adminDelay Delay of an administrator transfer, seconds.
     * @param operator The market's aggregator, which opens rounds and credits proof scores.
     * @param guardian May pause the operator's entry points.
     * @param kind_ "PoEG" or "PoSOC".
     * @param rewardToken Whether to create the UPOS reward token (the community) or not (the fleet).
     * @param deltaBps_ delta of eq. (3.23), basis points (0..10000; the thesis: 1000).
     * @param windows Blocks of the stake, reveal, seal, challenge and reward windows (each >= 1).
     * Requirements: non-zero addresses; parameters in range.
     */
    constructor(
        address admin,
        uint48 adminDelay,
        address operator,
        address guardian,
        string memory kind_,
        bool rewardToken,
        uint16 deltaBps_,
        uint64[5] memory windows
    ) AccessControlDefaultAdminRules(adminDelay, admin) EIP712("ProofStaking", "1") {
        if (operator == address(0) || guardian == address(0)) revert StakingZeroAddress();
        if (deltaBps_ > 10_000) revert StakingBadParameter("deltaBps", deltaBps_);
        for (uint256 i = 0; i < 5; ++i) {
            if (windows[i] == 0 || windows[i] > 1_000_000) revert StakingBadParameter("window", windows[i]);
        }
        _grantRole(OPERATOR_ROLE, operator);
        _grantRole(GUARDIAN_ROLE, guardian);
        kind = kind_;
        deltaBps = deltaBps_;
        (stakeWindow, revealWindow, sealWindow, challengeWindow, rewardWindow) =
            (windows[0], windows[1], windows[2], windows[3], windows[4]);
        epos = new EPOS();
        upos = rewardToken ? new UPOS() : UPOS(address(0));
    }

    // ------------------------------------------------------------------ guardian

    /// @notice Stop the operator's entry points. Requirements: GUARDIAN_ROLE.
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resume the operator's entry points. Requirements: GUARDIAN_ROLE.
    function unpause() external onlyRole(GUARDIAN_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ operator

    /**
     * @notice Open the next round for crediting.
     * Requirements: OPERATOR_ROLE; not paused; the previous round is closed.
     */
    function openRound() external onlyOperator whenNotPaused returns (uint256 round) {
        uint256 last = currentRound;
        if (last != 0) {
            Phase p = phaseOf(last);
            if (p != Phase.Closed) revert StakingRoundStillOpen(last, p);
        }
        round = last + 1;
        currentRound = round;
        _rounds[round].phase = Phase.Crediting;
        emit RoundOpened(round);
    }

    /**
     * @notice Credit members' proof scores (their EPOS for the round) and energy savings; each
     * member's fee delta x saving joins the reward pool M_r (eq. 3.23, Lemma 2).
     * Requirements: OPERATOR_ROLE; not paused; crediting phase; equal, non-empty lists of at most
     * {MAX_BATCH}; no zero address; each member once per round; totals fit in 96 bits.
     */
    function credit(address[] calldata accounts, uint256[] calldata scores, uint256[] calldata savings)
        external
        onlyOperator
        whenNotPaused
    {
        uint256 round = currentRound;
        Round storage r = _rounds[round];
        if (r.phase != Phase.Crediting) revert StakingWrongPhase(round, phaseOf(round));
        uint256 n = _batch(accounts.length);
        if (scores.length != n || savings.length != n) {
            revert StakingLengthMismatch(n, scores.length != n ? scores.length : savings.length);
        }
        uint256 credited = r.credited;
        uint256 pool = r.feePool;
        for (uint256 i = 0; i < n; ++i) {
            address a = accounts[i];
            if (a == address(0)) revert StakingZeroAddress();
            Member storage m = _members[round][a];
            if (m.credited) revert StakingDuplicateMember(a);
            uint256 s = _u96(scores[i]);
            uint256 save = _u96(savings[i]);
            uint256 fee = (save * deltaBps) / 10_000;
            m.credited = true;
            m.score = uint96(s);
            m.savings = uint96(save);
            credited += s;
            pool += fee;
            emit ScoreCredited(round, a, s, save, fee);
        }
        r.credited = uint96(_u96(credited));
        r.feePool = uint96(_u96(pool));
        r.members += uint32(n);
    }

    /**
     * @notice Close crediting and open staking for {stakeWindow} blocks (a round nobody was
     * credited in closes its staking at once, and ends without a miner after the reveal window).
     * Requirements: OPERATOR_ROLE; not paused; crediting phase.
     */
    function openStaking() external onlyOperator whenNotPaused {
        uint256 round = currentRound;
        Round storage r = _rounds[round];
        if (r.phase != Phase.Crediting) revert StakingWrongPhase(round, phaseOf(round));
        uint64 end = uint64(block.number) + stakeWindow;
        r.phase = Phase.Staking;
        r.stakeEnd = end;
        r.revealDeadline = end + revealWindow;
        emit StakingOpened(round, end, r.members, r.credited, r.feePool);
        _closeIfAllStaked(round, r);
    }

    /**
     * @notice Record the round's energy transactions (prosumer to prosumer, or with the grid: the
     * zero address stands for the distribution company), energy and loss in Wh; they enter the
     * digest the miner seals.
     * Requirements: OPERATOR_ROLE; not paused; crediting, staking or revealing phase (the record
     * is fixed before the miner is drawn, so nobody can change what an elected miner signs);
     * at most {MAX_BATCH} trades; from != to; 0 < energy < 2^96; loss < 2^96.
     */
    function recordTrades(Trade[] calldata trades) external onlyOperator whenNotPaused {
        uint256 round = currentRound;
        Round storage r = _rounds[round];
        Phase p = phaseOf(round);
        if (p != Phase.Crediting && p != Phase.Staking && p != Phase.Revealing) revert StakingWrongPhase(round, p);
        uint256 n = _batch(trades.length);
        bytes32 d = r.tradesDigest;
        uint256 total = r.tradedWh;
        for (uint256 i = 0; i < n; ++i) {
            Trade calldata t = trades[i];
            if (t.from == t.to) revert StakingSelfTrade(t.from);
            if (t.energyWh == 0) revert StakingZeroAmount();
            _u96(t.energyWh);
            _u96(t.lossWh);
            d = keccak256(abi.encode(d, t));
            total += t.energyWh;
            emit TradeRecorded(round, t.from, t.to, t.energyWh, t.lossWh);
        }
        r.tradesDigest = d;
        r.tradedWh = uint128(total);
    }

    /**
     * @notice Pay the mining reward in UPOS to members of the sealing miner's coalition by the
     * market's rule (Shapley values, eq. 3.17); may be called in pages.
     * Requirements: OPERATOR_ROLE; not paused; a reward token; the round was sealed, not
     * challenged, its challenge window is over and its reward window open; equal lists of at
     * most {MAX_BATCH}; each recipient staked with the miner and is paid once; the total paid
     * stays within the round's pool M_r (eq. 3.23).
     */
    function payReward(uint256 round, address[] calldata recipients, uint256[] calldata amounts)
        external
        onlyOperator
        whenNotPaused
    {
        Round storage r = _rewardable(round);
        uint64 closes = r.challengeEnd + rewardWindow;
        if (block.number <= r.challengeEnd || block.number > closes) {
            revert StakingRewardWindow(round, r.challengeEnd + 1, closes);
        }
        uint256 n = _batch(recipients.length);
        if (amounts.length != n) revert StakingLengthMismatch(n, amounts.length);
        uint256 paid = r.rewardPaid;
        uint256 paidStake = r.paidStake;
        for (uint256 i = 0; i < n; ++i) {
            Member storage m = _coalitionMember(round, r, recipients[i]);
            paid += amounts[i];
            if (paid > r.feePool) revert StakingRewardExceeded(round, r.feePool, paid);
            m.rewarded = true;
            paidStake += m.score;
        }
        r.rewardPaid = uint96(paid);
        r.paidStake = uint96(paidStake);
        for (uint256 i = 0; i < n; ++i) { // every check and write above, then the mints
            if (amounts[i] > 0) upos.mint(recipients[i], amounts[i]);
            emit RewardShared(round, recipients[i], amounts[i]);
        }
    }

    // ------------------------------------------------------------------ members

    /**
     * @notice Stake the caller's credited score in the current round: on itself (`validator` =
     * caller, with `commitment` = keccak256(abi.encode(caller, round, secret)) != 0) or with an
     * existing validator (`commitment` = 0). A zero score joins the coalition without weight.
     * Requirements: staking phase; the caller was credited in the round and has not staked.
     */
    function stake(address validator, bytes32 commitment) external {
        uint256 round = currentRound;
        Round storage r = _stakingRound(round);
        _stake(round, r, msg.sender, validator, commitment);
        _closeIfAllStaked(round, r);
    }

    /**
     * @notice Relay members' stakes, each signed by its member (EIP-712 `Stake(round, validator,
     * commitment)` in this contract's domain; signature as (r, yParityAndS), EIP-2098).
     * Requirements: as {stake} for each member; a valid signature by the member; at most
     * {MAX_BATCH} intents; validators before the delegators that stake with them.
     */
    function stakeFor(StakeIntent[] calldata intents) external {
        uint256 round = currentRound;
        Round storage r = _stakingRound(round);
        uint256 n = _batch(intents.length);
        for (uint256 i = 0; i < n; ++i) {
            StakeIntent calldata it = intents[i];
            bytes32 digest =
                _hashTypedDataV4(keccak256(abi.encode(STAKE_TYPEHASH, round, it.validator, it.commitment)));
            address signer = ECDSA.recover(digest, it.sigR, it.sigVS);
            if (signer != it.member) revert StakingBadSignature(it.member, signer);
            _stake(round, r, it.member, it.validator, it.commitment);
        }
        _closeIfAllStaked(round, r);
    }

    /**
     * @notice Reveal validators' secrets (anyone may submit them: a commitment binds its secret to
     * its validator and round).
     * Requirements: revealing phase (after staking closed, up to the reveal deadline); equal lists
     * of at most {MAX_BATCH}; each validator committed and not yet revealed; each secret matches.
     */
    function reveal(address[] calldata validators_, bytes32[] calldata secrets) external {
        uint256 round = currentRound;
        Round storage r = _rounds[round];
        Phase p = phaseOf(round);
        if (p != Phase.Revealing) revert StakingWrongPhase(round, p);
        uint256 n = _batch(validators_.length);
        if (secrets.length != n) revert StakingLengthMismatch(n, secrets.length);
        bytes32 entropy = r.entropy;
        uint256 eligible = r.eligible;
        for (uint256 i = 0; i < n; ++i) {
            address v = validators_[i];
            Member storage val = _members[round][v];
            if (val.status != ValidatorStatus.Committed) revert StakingNotCommitted(round, v);
            if (keccak256(abi.encode(v, round, secrets[i])) != _commitments[round][v]) {
                revert StakingBadReveal(round, v);
            }
            val.status = ValidatorStatus.Revealed;
            delete _commitments[round][v];
            entropy ^= keccak256(abi.encode(v, secrets[i]));
            eligible += val.score + _delegations[round][v].stake;
            emit SecretRevealed(round, v, secrets[i]);
        }
        r.entropy = entropy;
        r.eligible = uint96(eligible);
        r.revealedStake = uint96(eligible); // nothing is slashed before the reveal deadline
        r.revealed += uint32(n);
    }

    // ------------------------------------------------------------------ anyone

    /**
     * @notice Draw the miner (eq. 3.16 / 4.18). The first call after the reveal deadline fixes the
     * seed: keccak256(XOR of the revealed secrets, beacon, this contract, round), the beacon being
     * block.prevrandao when called in the block right after the reveal deadline, else that block's
     * hash (zero once it is older than 256 blocks). Validators that did not reveal are excluded.
     * Makes at most {MAX_DRAWS} draws; call again while {ElectionPending} is emitted. With no
     * eligible stake the round closes without a miner.
     * Requirements: electing phase (the reveal deadline passed, no miner yet).
     */
    function elect() external returns (address miner) {
        uint256 round = currentRound;
        Round storage r = _rounds[round];
        Phase p = phaseOf(round);
        if (p != Phase.Electing) revert StakingWrongPhase(round, p);
        if (r.phase == Phase.Staking) {
            uint256 beaconBlock = uint256(r.revealDeadline) + 1;
            bytes32 beacon = block.number == beaconBlock ? bytes32(block.prevrandao) : blockhash(beaconBlock);
            bytes32 seed = keccak256(abi.encode(r.entropy, beacon, address(this), round));
            r.seed = seed;
            r.phase = Phase.Electing;
            emit SeedDrawn(round, seed, r.entropy, beacon, r.eligible);
        }
        return _draw(round, r);
    }

    /**
     * @notice The elected miner's signed seal of the round's record (anyone may submit it): the
     * digest {blockDigest}(round, payload) covers the trades recorded so far and `payload` (the
     * miner's block: the fleet's global-model hash and V2V trades, or the community's day).
     * Requirements: elected phase, up to the seal deadline; an EIP-712 `Seal(round, digest)`
     * signature by the miner.
     */
    function seal(bytes32 payload, bytes32 sigR, bytes32 sigVS) external {
        uint256 round = currentRound;
        Round storage r = _rounds[round];
        if (r.phase != Phase.Elected) revert StakingWrongPhase(round, phaseOf(round));
        if (block.number > r.sealDeadline) revert StakingSealDeadlinePassed(round, r.sealDeadline);
        bytes32 digest = blockDigest(round, payload);
        address signer = ECDSA.recover(sealHash(round, digest), sigR, sigVS);
        if (signer != r.miner) revert StakingBadSignature(r.miner, signer);
        r.digest = digest;
        r.phase = Phase.Sealed;
        r.challengeEnd = uint64(block.number) + challengeWindow;
        emit RoundSealed(round, signer, digest, payload);
    }

    /**
     * @notice The elected miner did not seal before the seal deadline (evidence the chain keeps):
     * burn its coalition's stake, exclude it and continue the election (eq. 3.24).
     * Requirements: elected phase; the seal deadline has passed.
     */
    function slash() external returns (address miner) {
        uint256 round = currentRound;
        Round storage r = _rounds[round];
        if (r.phase != Phase.Elected) revert StakingWrongPhase(round, phaseOf(round));
        if (block.number <= r.sealDeadline) revert StakingSealWindowOpen(round, r.sealDeadline);
        _slashMiner(round, r, SlashReason.Unsealed);
        r.miner = address(0);
        r.phase = Phase.Electing;
        return _draw(round, r);
    }

    /**
     * @notice Prove that the sealing miner signed another digest for the round (equivocation):
     * burn its coalition's stake and withhold the reward (eq. 3.24); the round closes.
     * Requirements: the round was sealed and its challenge window is open; `otherDigest` differs
     * from the sealed digest; a valid EIP-712 `Seal(round, otherDigest)` signature by the miner.
     */
    function challenge(uint256 round, bytes32 otherDigest, bytes32 sigR, bytes32 sigVS) external {
        Round storage r = _rounds[round];
        if (r.phase != Phase.Sealed || block.number > r.challengeEnd) revert StakingNotChallengeable(round);
        if (otherDigest == r.digest) revert StakingSameDigest(round);
        address signer = ECDSA.recover(sealHash(round, otherDigest), sigR, sigVS);
        if (signer != r.miner) revert StakingBadSignature(r.miner, signer);
        _slashMiner(round, r, SlashReason.Equivocation);
        r.challenged = true;
        r.phase = Phase.Closed;
        emit RoundClosed(round, r.miner, 0);
    }

    /**
     * @notice After the reward window, a member of the sealing miner's coalition that the operator
     * did not pay claims its share of what is left of M_r, pro rata to its stake among the unpaid.
     * Requirements: a reward token; the round sealed, not challenged, reward window over; the
     * caller staked with the miner, was not paid, and its share is not zero.
     */
    function claimReward(uint256 round) external returns (uint256 amount) {
        Round storage r = _rewardable(round);
        uint64 closes = r.challengeEnd + rewardWindow;
        if (block.number <= closes) revert StakingRewardWindow(round, closes + 1, type(uint64).max);
        Member storage m = _coalitionMember(round, r, msg.sender);
        uint256 unpaidStake = _stakeBehind(round, r.miner) - r.paidStake;
        if (unpaidStake == 0) revert StakingNothingToClaim(round, msg.sender);
        amount = (uint256(m.score) * (r.feePool - r.rewardPaid)) / unpaidStake;
        if (amount == 0) revert StakingNothingToClaim(round, msg.sender);
        m.rewarded = true;
        r.rewardPaid += uint96(amount);
        r.paidStake += m.score;
        upos.mint(msg.sender, amount);
        emit RewardShared(round, msg.sender, amount);
    }

    // ------------------------------------------------------------------ queries

    /// @notice The phase of `round` now (deadlines passed move it on without a transaction).
    function phaseOf(uint256 round) public view returns (Phase) {
        Round storage r = _rounds[round];
        Phase p = r.phase;
        if (p == Phase.Staking) {
            if (block.number <= r.stakeEnd) return Phase.Staking;
            if (block.number <= r.revealDeadline) return Phase.Revealing;
            return Phase.Electing;
        }
        if (p == Phase.Sealed && block.number > r.challengeEnd) return Phase.Closed;
        return p;
    }

    /**
     * @notice Whether `round` is over, and the miner that earned its reward (zero when no miner
     * sealed it, or the seal was challenged). {V2VSettlement} pays the fleet's fees to it.
     */
    function outcome(uint256 round) external view returns (bool closed, address rewardedMiner) {
        Round storage r = _rounds[round];
        closed = phaseOf(round) == Phase.Closed;
        rewardedMiner = (closed && r.digest != bytes32(0) && !r.challenged) ? r.miner : address(0);
    }

    /// @notice The elected miner of a round (zero while none is elected).
    function minerOf(uint256 round) external view returns (address) {
        return _rounds[round].miner;
    }

    /// @notice keccak256(abi.encode(round, digest of the recorded trades, payload)): what a miner seals.
    function blockDigest(uint256 round, bytes32 payload) public view returns (bytes32) {
        return keccak256(abi.encode(round, _rounds[round].tradesDigest, payload));
    }

    /// @notice The EIP-712 hash a miner signs to seal `digest` in `round`.
    function sealHash(uint256 round, bytes32 digest) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SEAL_TYPEHASH, round, digest)));
    }

    /// @notice The EIP-712 hash a member signs to stake with `validator` in `round`.
    function stakeHash(uint256 round, address validator, bytes32 commitment) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(STAKE_TYPEHASH, round, validator, commitment)));
    }

    /**
     * @notice Replay a draw of `round` with its fixed seed: the segment hit by draw `attempt` and
     * its validator (eq. 3.16 / 4.18; an excluded validator means the draw is rejected).
     */
    function pick(uint256 round, uint32 attempt) public view returns (address validator, uint256 segment) {
        Round storage r = _rounds[round];
        if (r.seed == bytes32(0) || r.staked == 0) return (address(0), 0);
        uint256 x = uint256(keccak256(abi.encode(r.seed, attempt))) % r.staked;
        segment = _search(_segments[round], x);
        validator = _segments[round][segment].validator;
    }

    function roundInfo(uint256 round) external view returns (RoundView memory v) {
        Round storage r = _rounds[round];
        v.phase = phaseOf(round);
        v.miner = r.miner;
        v.attempts = r.attempts;
        v.members = r.members;
        v.stakers = r.stakers;
        v.validators = r.validators;
        v.revealed = r.revealed;
        v.credited = r.credited;
        v.staked = r.staked;
        v.eligible = r.eligible;
        v.burned = _burned(r);
        v.feePool = r.feePool;
        v.rewardPaid = r.rewardPaid;
        v.tradedWh = r.tradedWh;
        v.stakeEnd = r.stakeEnd;
        v.revealDeadline = r.revealDeadline;
        v.sealDeadline = r.sealDeadline;
        v.challengeEnd = r.challengeEnd;
        v.seed = r.seed;
        v.digest = r.digest;
        v.challenged = r.challenged;
    }

    /// @notice A member of a round: (credited, score, savings, staked, validator, rewarded).
    function memberInfo(uint256 round, address account)
        external
        view
        returns (bool credited, uint256 score, uint256 savings, bool staked, address validator, bool rewarded)
    {
        Member storage m = _members[round][account];
        credited = m.credited;
        score = m.score;
        savings = m.savings;
        staked = m.seg != 0;
        validator = staked ? _segments[round][m.seg - 1].validator : address(0);
        rewarded = m.rewarded;
    }

    /// @notice A validator of a round: (stake behind it, its own stake, backers, status).
    function validatorInfo(uint256 round, address validator)
        external
        view
        returns (uint256 stakeBehind, uint256 own, uint256 backers, ValidatorStatus status)
    {
        Member storage v = _members[round][validator];
        if (v.status == ValidatorStatus.None) return (0, 0, 0, ValidatorStatus.None);
        return (_stakeBehind(round, validator), v.score, 1 + _delegations[round][validator].backers, v.status);
    }

    function segmentCount(uint256 round) external view returns (uint256) {
        return _segments[round].length;
    }

    /// @notice Stake segments `start`.. (at most `count`) of a round in staking order: cumulative ends and validators.
    function segments(uint256 round, uint256 start, uint256 count)
        external
        view
        returns (uint256[] memory ends, address[] memory validators_)
    {
        Segment[] storage s = _segments[round];
        uint256 stop = start + count > s.length ? s.length : start + count;
        uint256 n = stop > start ? stop - start : 0;
        ends = new uint256[](n);
        validators_ = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            ends[i] = s[start + i].end;
            validators_[i] = s[start + i].validator;
        }
    }

    /// @inheritdoc IProofScoreSource
    function eposBalanceOf(address account) external view returns (uint256) {
        uint256 round = currentRound;
        Member storage m = _members[round][account];
        if (m.seg == 0) return m.score;
        address v = _segments[round][m.seg - 1].validator;
        ValidatorStatus s = _members[round][v].status;
        if (s == ValidatorStatus.Slashed) return 0;
        if (s == ValidatorStatus.Committed && _revealOver(round)) return 0;
        return m.score;
    }

    /// @inheritdoc IProofScoreSource
    function eposTotalSupply() external view returns (uint256) {
        Round storage r = _rounds[currentRound];
        return r.credited - _burned(r);
    }

    // ------------------------------------------------------------------ internals

    function _batch(uint256 n) private pure returns (uint256) {
        if (n == 0) revert StakingEmptyList();
        if (n > MAX_BATCH) revert StakingBatchTooLarge(n, MAX_BATCH);
        return n;
    }

    function _u96(uint256 x) private pure returns (uint256) {
        if (x > type(uint96).max) revert StakingAmountTooLarge(x, type(uint96).max);
        return x;
    }

    function _stakingRound(uint256 round) private view returns (Round storage r) {
        Phase p = phaseOf(round);
        if (p != Phase.Staking) revert StakingWrongPhase(round, p);
        r = _rounds[round];
    }

    function _stake(uint256 round, Round storage r, address member, address validator, bytes32 commitment) private {
        Member storage m = _members[round][member];
        if (!m.credited) revert StakingNotMember(round, member);
        if (m.seg != 0) revert StakingAlreadyStaked(round, member);
        if (validator == address(0)) revert StakingZeroAddress();
        uint96 amount = m.score;
        Segment[] storage segs = _segments[round];
        uint32 seg = uint32(segs.length + 1);
        if (validator == member) {
            if (commitment == bytes32(0)) revert StakingMissingCommitment(member);
            m.status = ValidatorStatus.Committed;
            _commitments[round][member] = commitment;
            r.validators += 1;
        } else {
            if (commitment != bytes32(0)) revert StakingUnexpectedCommitment(member);
            if (_members[round][validator].status == ValidatorStatus.None) revert StakingNotValidator(round, validator);
            Delegation storage d = _delegations[round][validator];
            d.stake += amount;
            d.backers += 1;
        }
        uint96 end = r.staked + amount;
        segs.push(Segment(end, validator));
        m.seg = seg;
        r.staked = end;
        r.stakers += 1;
        emit Staked(round, member, validator, amount, commitment);
    }

    /// @dev Once every credited member staked, staking is over from this block on.
    function _closeIfAllStaked(uint256 round, Round storage r) private {
        if (r.stakers == r.members) {
            uint64 now_ = uint64(block.number);
            r.stakeEnd = now_ - 1;
            r.revealDeadline = now_ + revealWindow;
            emit StakingClosed(round, now_ + revealWindow, r.stakers, r.staked);
        }
    }

    function _revealOver(uint256 round) private view returns (bool) {
        Round storage r = _rounds[round];
        return r.phase > Phase.Staking || (r.phase == Phase.Staking && block.number > r.revealDeadline);
    }

    /// @dev Burned this round: slashed coalitions and the coalitions of validators that did not reveal.
    function _burned(Round storage r) private view returns (uint256) {
        bool over = r.phase > Phase.Staking || (r.phase == Phase.Staking && block.number > r.revealDeadline);
        return r.burned + (over ? r.staked - r.revealedStake : 0);
    }

    /// @dev Up to MAX_DRAWS rejection-sampled draws over the staking segments (O(log n) each).
    function _draw(uint256 round, Round storage r) private returns (address) {
        uint256 eligible = r.eligible;
        if (eligible == 0) {
            r.phase = Phase.Closed;
            emit RoundClosed(round, address(0), 0);
            return address(0);
        }
        Segment[] storage segs = _segments[round];
        uint256 total = r.staked;
        bytes32 seed = r.seed;
        uint32 a = r.attempts;
        for (uint32 i = 0; i < MAX_DRAWS; ++i) {
            uint256 x = uint256(keccak256(abi.encode(seed, a))) % total;
            address v = segs[_search(segs, x)].validator;
            a += 1;
            if (_members[round][v].status == ValidatorStatus.Revealed) {
                r.attempts = a;
                r.miner = v;
                r.phase = Phase.Elected;
                r.sealDeadline = uint64(block.number) + sealWindow;
                emit MinerElected(round, v, _stakeBehind(round, v), eligible, a - 1);
                return v;
            }
        }
        r.attempts = a;
        emit ElectionPending(round, a);
        return address(0);
    }

    /// @dev The first segment whose end exceeds x (segments' ends are non-decreasing, x < last end).
    function _search(Segment[] storage segs, uint256 x) private view returns (uint256 lo) {
        uint256 hi = segs.length - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (segs[mid].end > x) hi = mid;
            else lo = mid + 1;
        }
    }

    function _slashMiner(uint256 round, Round storage r, SlashReason reason) private {
        address miner = r.miner;
        uint96 burned = _stakeBehind(round, miner);
        _members[round][miner].status = ValidatorStatus.Slashed;
        r.eligible -= burned;
        r.burned += burned;
        emit MinerSlashed(round, miner, burned, reason);
    }

    /// @dev A validator's own stake and its delegators': its coalition's proof score.
    function _stakeBehind(uint256 round, address validator) private view returns (uint96) {
        return _members[round][validator].score + _delegations[round][validator].stake;
    }

    function _rewardable(uint256 round) private view returns (Round storage r) {
        if (address(upos) == address(0)) revert StakingNoRewardToken();
        r = _rounds[round];
        if (r.phase != Phase.Sealed) revert StakingWrongPhase(round, phaseOf(round));
    }

    function _coalitionMember(uint256 round, Round storage r, address account) private view returns (Member storage m) {
        m = _members[round][account];
        if (m.seg == 0 || _segments[round][m.seg - 1].validator != r.miner) revert StakingNotInMinerCoalition(account);
        if (m.rewarded) revert StakingAlreadyRewarded(round, account);
    }
}
