// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {Elecoin} from "./Elecoin.sol";

/**
 * @title ETSC, the electricity trading smart contract
 * @notice Paper Algorithm 2. Registration module (constructor, empower), transaction module
 * (buyToken at an edge server's declared price, checkQualification, trade), electricity
 * clearing module (smart-meter generation and consumption) and query module; plus what a market
 * run by several parties needs and the paper leaves out: rotatable roles, bounded meters, a
 * guardian that can pause, per-server allocations within on-chain price bounds, a supply per
 * trading slot and a redemption path for retailers.
 *
 * Units: energy in Wh (integers); elecoins in the token's smallest unit (18 decimals);
 * `unitPowerPrice` (the paper's Q) in elecoin units per Wh; prices in wei of the chain's native
 * currency per whole elecoin (1e18 units); rated power in W; time in seconds.
 *
 * Threat notes (docs/ledger.md has the full model):
 * - The administrator (DEFAULT_ADMIN_ROLE) is trusted to register honest users and meters and to
 *   set the market's parameters; it changes hands only by a two-step transfer that waits
 *   `defaultAdminDelay()` (OpenZeppelin AccessControlDefaultAdminRules).
 * - A meter is not trusted to tell the truth, only to stay within its rating: per trading slot
 *   it may report at most ratedW x slotSeconds of generation, so a bad or stolen meter mints at
 *   most one slot's rated energy per slot, and the administrator can revoke it.
 * - An edge server is not trusted with the reserve: it sells only its allocation, at a price in
 *   [minPrice, maxPrice]; other servers' allocations are untouched by its sales.
 * - The guardian can only pause; unpausing is the administrator's.
 * - Elecoins are never minted after construction (the paper's totalElecoins). Native coin held
 *   = unwithdrawn proceeds + redemption backing, and every elecoin in circulation is backed at
 *   `redemptionPrice`.
 */
contract ETSC is AccessControlDefaultAdminRules, Pausable, ReentrancyGuard {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice Outcome of {checkQualification}; `Qualified` means {trade} would succeed.
    enum Qualification {
        Qualified,
        ZeroAmount,
        BuyerNotRegistered,
        BuyerNoTransRight,
        SelfTrade,
        RetailerNotRegistered,
        RetailerNoGenRight,
        InsufficientPower,
        InsufficientElecoins
    }

    /// @notice Deployment parameters (paper Algorithm 2's constructor, plus the market's bounds).
    struct Config {
        address administrator;
        address guardian;
        uint48 adminDelay;
        uint256 totalElecoins;
        uint256 unitPowerPrice;
        uint256 minPrice;
        uint256 maxPrice;
        uint256 redemptionPrice;
        uint256 slotSeconds;
        uint256 slotSupply;
    }

    struct User {
        string name;
        bool registered;
        bool genRight;
        bool transRight;
        uint256 availPower;
        uint256 totalGenPower;
        uint256 totalUsePower;
    }

    struct Meter {
        address user;
        uint64 ratedW;
        bool revoked;
        uint64 slot;
        uint192 reportedWh;
    }

    /// @notice Everything the query module tells about one account.
    struct AccountView {
        string name;
        bool registered;
        bool genRight;
        bool transRight;
        bool edgeServer;
        address meterOf;
        uint256 availPower;
        uint256 avaElecoins;
        uint256 totalGenPower;
        uint256 totalUsePower;
        uint256 proceeds;
    }

    /// @notice One smart meter: its user, rating, and what it reported in its latest slot.
    struct MeterView {
        address user;
        uint256 ratedW;
        bool active;
        uint256 slot;
        uint256 reportedWh;
        uint256 remainingWh;
    }

    struct Totals {
        uint256 users;
        uint256 availPower;
        uint256 genPower;
        uint256 usePower;
        uint256 elecoinReserve;
        uint256 elecoinSupply;
        uint256 elecoinAllocated;
        uint256 elecoinsRedeemed;
        uint256 redemptionBacking;
        uint256 proceedsOwed;
    }

    /// @notice Role allowed to pause the market (granted and revoked by the administrator).
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice Largest rating of one meter (1 GW): bounds every report, so no sum can overflow.
    uint256 public constant MAX_RATED_W = 1e9;
    /// @notice Longest trading slot (one week).
    uint256 public constant MAX_SLOT_SECONDS = 7 days;
    /// @notice Most edge servers at once (bounds the {edgeServers} list).
    uint256 public constant MAX_EDGE_SERVERS = 64;
    /// @notice Largest Q (elecoin units per Wh); with bounded energy, energy x Q cannot overflow.
    uint256 public constant MAX_UNIT_POWER_PRICE = 1e36;
    uint256 private constant ELECOIN = 1e18;

    Elecoin public immutable elecoin;
    /// @notice Q, elecoin units paid per Wh traded.
    uint256 public immutable unitPowerPrice;
    /// @notice Wei paid back per elecoin redeemed by a retailer; never above {minPrice}.
    uint256 public immutable redemptionPrice;
    /// @notice Length of one trading slot.
    uint256 public immutable slotSeconds;
    /// @notice Start of slot 0 (the deployment's block time).
    uint256 public immutable startTime;

    /// @notice Lowest price an edge server may declare (wei per elecoin).
    uint256 public minPrice;
    /// @notice Highest price an edge server may declare (wei per elecoin).
    uint256 public maxPrice;
    /// @notice Most elecoins all edge servers together may sell within one trading slot.
    uint256 public slotSupply;
    /// @notice Elecoin units sold in each trading slot.
    mapping(uint256 slot => uint256) public soldInSlot;
    /// @notice Elecoin units each edge server may still sell (earmarked from the reserve).
    mapping(address server => uint256) public allocation;
    /// @notice Sum of all allocations; never above the reserve.
    uint256 public totalAllocated;
    /// @notice Native currency held to pay redemptions (every circulating elecoin is backed).
    uint256 public redemptionBacking;
    /// @notice Elecoin units redeemed so far (returned to the reserve).
    uint256 public totalRedeemed;
    /// @notice Native currency received by each edge server and not yet withdrawn.
    mapping(address server => uint256) public proceeds;
    /// @notice Sum of {proceeds}.
    uint256 public totalProceeds;

    mapping(address => User) private _users;
    address[] private _userList;
    EnumerableSet.AddressSet private _edgeServers;
    mapping(address => Meter) private _meters;
    /// @notice Uniform price declared by each edge server (wei per elecoin; 0 = none).
    mapping(address => uint256) public uniformPrice;
    mapping(address => mapping(address => uint256)) private _personalPrice;
    uint256 private _totalAvailPower;
    uint256 private _totalGenPower;
    uint256 private _totalUsePower;

    event UserEmpowered(address indexed user, string name, bool genRight, bool transRight);
    event RightsChanged(address indexed user, bool genRight, bool transRight);
    event MeterRegistered(address indexed meter, address indexed user, uint256 ratedW);
    event MeterRevoked(address indexed meter, address indexed user);
    event EdgeServerAdded(address indexed server);
    event EdgeServerRemoved(address indexed server, uint256 releasedAllocation);
    event AllocationSet(address indexed server, uint256 amount);
    event PriceBoundsSet(uint256 minPrice, uint256 maxPrice);
    event SlotSupplySet(uint256 supply);
    event PriceDeclared(address indexed server, uint256 weiPerElecoin);
    event PersonalPriceDeclared(address indexed server, address indexed prosumer, uint256 weiPerElecoin);
    event ElecoinsBought(address indexed prosumer, address indexed server, uint256 amount, uint256 paid);
    event Traded(address indexed prosumer, address indexed retailer, uint256 energyWh, uint256 elecoins);
    event Generated(address indexed user, address indexed meter, uint256 energyWh);
    event Consumed(address indexed user, address indexed meter, uint256 energyWh);
    event Redeemed(address indexed retailer, uint256 amount, uint256 paid);
    event ProceedsWithdrawn(address indexed server, uint256 amount);

    error ETSCNotAdministrator(address account);
    error ETSCNotGuardian(address account);
    error ETSCNotEdgeServer(address account);
    error ETSCEdgeServerAlreadyAdded(address account);
    error ETSCTooManyEdgeServers(uint256 max);
    error ETSCNotMeter(address account);
    error ETSCNotRegistered(address account);
    error ETSCAlreadyRegistered(address account);
    error ETSCMeterAlreadyRegistered(address meter);
    error ETSCRatedPowerOutOfRange(uint256 ratedW, uint256 max);
    error ETSCReportAboveRating(address meter, uint256 remainingWh, uint256 reportedWh);
    error ETSCNoTransRight(address account);
    error ETSCNoGenRight(address account);
    error ETSCZeroAmount();
    error ETSCZeroAddress();
    error ETSCEmptyName();
    error ETSCSelfTrade(address account);
    error ETSCInsufficientPower(address account, uint256 available, uint256 needed);
    error ETSCInsufficientElecoins(address account, uint256 available, uint256 needed);
    error ETSCInsufficientReserve(uint256 available, uint256 needed);
    error ETSCAllocationExceeded(address server, uint256 available, uint256 needed);
    error ETSCSlotSupplyExhausted(uint256 slot, uint256 available, uint256 needed);
    error ETSCPriceNotDeclared(address server, address prosumer);
    error ETSCPriceOutOfBounds(uint256 price, uint256 minPrice, uint256 maxPrice);
    error ETSCInvalidPriceBounds(uint256 minPrice, uint256 maxPrice, uint256 redemptionPrice);
    error ETSCInvalidParameter(string name, uint256 value, uint256 max);
    error ETSCWrongPayment(uint256 expected, uint256 paid);
    error ETSCNothingToWithdraw(address account);
    error ETSCWithdrawFailed(address account, uint256 amount);

    modifier onlyAdministrator() {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert ETSCNotAdministrator(msg.sender);
        _;
    }

    modifier onlyEdgeServer() {
        if (!_edgeServers.contains(msg.sender)) revert ETSCNotEdgeServer(msg.sender);
        _;
    }

    /**
     * @notice System initialisation (paper Algorithm 2, Registration module). Edge servers are
     * added afterwards with {addEdgeServer}, each with its allocation.
     * @param cfg administrator (DEFAULT_ADMIN_ROLE), guardian (GUARDIAN_ROLE; zero for none),
     * adminDelay (seconds an administrator transfer waits), totalElecoins (the whole supply, held
     * by this contract), unitPowerPrice (Q), [minPrice, maxPrice] (wei per elecoin),
     * redemptionPrice (wei per elecoin, at most minPrice), slotSeconds, slotSupply.
     * Requirements:
     * - the administrator is not zero; 0 < Q <= MAX_UNIT_POWER_PRICE;
     * - 0 < slotSeconds <= MAX_SLOT_SECONDS; slotSupply > 0;
     * - 0 < minPrice <= maxPrice and redemptionPrice <= minPrice.
     */
    constructor(Config memory cfg) AccessControlDefaultAdminRules(cfg.adminDelay, cfg.administrator) {
        if (cfg.unitPowerPrice == 0 || cfg.unitPowerPrice > MAX_UNIT_POWER_PRICE) {
            revert ETSCInvalidParameter("unitPowerPrice", cfg.unitPowerPrice, MAX_UNIT_POWER_PRICE);
        }
        if (cfg.slotSeconds == 0 || cfg.slotSeconds > MAX_SLOT_SECONDS) {
            revert ETSCInvalidParameter("slotSeconds", cfg.slotSeconds, MAX_SLOT_SECONDS);
        }
        if (cfg.slotSupply == 0) revert ETSCInvalidParameter("slotSupply", 0, type(uint256).max);
        unitPowerPrice = cfg.unitPowerPrice;
        redemptionPrice = cfg.redemptionPrice;
        slotSeconds = cfg.slotSeconds;
        startTime = block.timestamp;
        _setPriceBounds(cfg.minPrice, cfg.maxPrice);
        slotSupply = cfg.slotSupply;
        emit SlotSupplySet(cfg.slotSupply);
        if (cfg.guardian != address(0)) _grantRole(GUARDIAN_ROLE, cfg.guardian);
        elecoin = new Elecoin(cfg.totalElecoins, address(this));
    }

    // ------------------------------------------------------------------ registration

    /**
     * @notice Register a user (prosumer or retailer) with its rights; availPower, elecoins,
     * totalGenPower and totalUsePower start at zero (paper Algorithm 2, empower()).
     * Requirements: caller is the administrator; `userAddr` is not zero and not registered;
     * `userName` is not empty.
     */
    function empower(string calldata userName, address userAddr, bool genRight, bool transRight)
        external
        onlyAdministrator
    {
        if (userAddr == address(0)) revert ETSCZeroAddress();
        if (bytes(userName).length == 0) revert ETSCEmptyName();
        User storage user = _users[userAddr];
        if (user.registered) revert ETSCAlreadyRegistered(userAddr);
        user.name = userName;
        user.registered = true;
        user.genRight = genRight;
        user.transRight = transRight;
        _userList.push(userAddr);
        emit UserEmpowered(userAddr, userName, genRight, transRight);
    }

    /**
     * @notice Change a registered user's rights.
     * Requirements: caller is the administrator; `userAddr` is registered.
     */
    function setRights(address userAddr, bool genRight, bool transRight) external onlyAdministrator {
        User storage user = _registered(userAddr);
        user.genRight = genRight;
        user.transRight = transRight;
        emit RightsChanged(userAddr, genRight, transRight);
    }

    /**
     * @notice Register the smart meter that reports for `userAddr`, rated `ratedW` watts: per
     * trading slot it may report at most ratedW x slotSeconds / 3600 Wh of generation.
     * Requirements: caller is the administrator; `meter` is not zero and was never a meter;
     * `userAddr` is registered; 0 < `ratedW` <= MAX_RATED_W.
     */
    function registerMeter(address meter, address userAddr, uint256 ratedW) external onlyAdministrator {
        if (meter == address(0)) revert ETSCZeroAddress();
        if (_meters[meter].user != address(0)) revert ETSCMeterAlreadyRegistered(meter);
        _registered(userAddr);
        if (ratedW == 0 || ratedW > MAX_RATED_W) revert ETSCRatedPowerOutOfRange(ratedW, MAX_RATED_W);
        _meters[meter] = Meter({user: userAddr, ratedW: uint64(ratedW), revoked: false, slot: 0, reportedWh: 0});
        emit MeterRegistered(meter, userAddr, ratedW);
    }

    /**
     * @notice Revoke a meter for good (its key was lost, stolen or the device misreports); the
     * energy it reported stays with its user. A revoked address can never be a meter again.
     * Requirements: caller is the administrator; `meter` is an active meter.
     */
    function revokeMeter(address meter) external onlyAdministrator {
        Meter storage m = _activeMeter(meter);
        m.revoked = true;
        emit MeterRevoked(meter, m.user);
    }

    // ------------------------------------------------------------------ edge servers and supply

    /**
     * @notice Add an edge server with an allocation of `amount` elecoin units from the
     * unallocated reserve.
     * Requirements: caller is the administrator; `server` is not zero and not an edge server;
     * fewer than MAX_EDGE_SERVERS servers; the unallocated reserve holds `amount`.
     */
    function addEdgeServer(address server, uint256 amount) external onlyAdministrator {
        if (server == address(0)) revert ETSCZeroAddress();
        if (_edgeServers.length() >= MAX_EDGE_SERVERS) revert ETSCTooManyEdgeServers(MAX_EDGE_SERVERS);
        if (!_edgeServers.add(server)) revert ETSCEdgeServerAlreadyAdded(server);
        emit EdgeServerAdded(server);
        _setAllocation(server, amount);
    }

    /**
     * @notice Remove an edge server: its allocation returns to the reserve and its prices are
     * cleared; proceeds it has not withdrawn stay withdrawable.
     * Requirements: caller is the administrator; `server` is an edge server.
     */
    function removeEdgeServer(address server) external onlyAdministrator {
        if (!_edgeServers.remove(server)) revert ETSCNotEdgeServer(server);
        uint256 released = allocation[server];
        allocation[server] = 0;
        totalAllocated -= released;
        uniformPrice[server] = 0;
        emit EdgeServerRemoved(server, released);
    }

    /**
     * @notice Set how many elecoin units `server` may still sell.
     * Requirements: caller is the administrator; `server` is an edge server; an increase fits in
     * the unallocated reserve (reserve - totalAllocated).
     */
    function setAllocation(address server, uint256 amount) external onlyAdministrator {
        if (!_edgeServers.contains(server)) revert ETSCNotEdgeServer(server);
        _setAllocation(server, amount);
    }

    /**
     * @notice Set the price bounds every declared price must respect (the market's [p_min, p_max]).
     * Requirements: caller is the administrator; redemptionPrice <= `minPrice` <= `maxPrice`;
     * `minPrice` > 0.
     */
    function setPriceBounds(uint256 newMinPrice, uint256 newMaxPrice) external onlyAdministrator {
        _setPriceBounds(newMinPrice, newMaxPrice);
    }

    /**
     * @notice Set the most elecoins all edge servers together may sell within one trading slot
     * (the paper's totalElecoins, per slot).
     * Requirements: caller is the administrator; `supply` > 0.
     */
    function setSlotSupply(uint256 supply) external onlyAdministrator {
        if (supply == 0) revert ETSCZeroAmount();
        slotSupply = supply;
        emit SlotSupplySet(supply);
    }

    /**
     * @notice Stop buying, trading, meter reports and redemptions (withdrawals stay open).
     * Requirements: caller holds GUARDIAN_ROLE; the market is not paused.
     */
    function pause() external {
        if (!hasRole(GUARDIAN_ROLE, msg.sender)) revert ETSCNotGuardian(msg.sender);
        _pause();
    }

    /**
     * @notice Resume the market.
     * Requirements: caller is the administrator; the market is paused.
     */
    function unpause() external onlyAdministrator {
        _unpause();
    }

    // ------------------------------------------------------------------ pricing

    /**
     * @notice Declare the uniform unit elecoin price (the Stackelberg leader's action).
     * Requirements: caller is an edge server; minPrice <= `weiPerElecoin` <= maxPrice.
     */
    function declarePrice(uint256 weiPerElecoin) external onlyEdgeServer {
        _checkPrice(weiPerElecoin);
        uniformPrice[msg.sender] = weiPerElecoin;
        emit PriceDeclared(msg.sender, weiPerElecoin);
    }

    /**
     * @notice Declare a personal price for one prosumer (discriminated pricing); 0 clears it,
     * so that the prosumer pays the uniform price again.
     * Requirements: caller is an edge server; `prosumer` is registered; the price is 0 or within
     * [minPrice, maxPrice].
     */
    function declarePriceFor(address prosumer, uint256 weiPerElecoin) external onlyEdgeServer {
        _registered(prosumer);
        if (weiPerElecoin != 0) _checkPrice(weiPerElecoin);
        _personalPrice[msg.sender][prosumer] = weiPerElecoin;
        emit PersonalPriceDeclared(msg.sender, prosumer, weiPerElecoin);
    }

    /// @notice Price `prosumer` pays `server` per elecoin: personal if declared, else uniform (0 = none).
    function priceFor(address server, address prosumer) public view returns (uint256) {
        uint256 personal = _personalPrice[server][prosumer];
        return personal != 0 ? personal : uniformPrice[server];
    }

    /// @notice Native currency due for `amount` elecoin units at `server`'s price for `prosumer` (rounded up).
    function quote(address server, address prosumer, uint256 amount) public view returns (uint256) {
        return Math.mulDiv(amount, priceFor(server, prosumer), ELECOIN, Math.Rounding.Ceil);
    }

    // ------------------------------------------------------------------ transaction module

    /**
     * @notice Buy `amount` elecoin units from `server`, paying exactly {quote} in native currency
     * (paper Algorithm 2, step 1). The part amount x redemptionPrice (rounded up) backs the
     * elecoins for redemption; the rest is the server's proceeds. Paying exactly the quote is the
     * buyer's protection against a price changed while its transaction waits.
     * Requirements: the market is not paused; caller registered with the trading right; `amount`
     * > 0; `server` is an edge server with a declared price for the caller within the current
     * bounds; `amount` fits in the server's allocation and in what is left of the slot's supply;
     * `msg.value` equals the quote.
     */
    function buyToken(address server, uint256 amount) external payable whenNotPaused {
        User storage buyer = _registered(msg.sender);
        if (!buyer.transRight) revert ETSCNoTransRight(msg.sender);
        if (amount == 0) revert ETSCZeroAmount();
        if (!_edgeServers.contains(server)) revert ETSCNotEdgeServer(server);
        uint256 price = priceFor(server, msg.sender);
        if (price == 0) revert ETSCPriceNotDeclared(server, msg.sender);
        _checkPrice(price);
        uint256 available = allocation[server];
        if (available < amount) revert ETSCAllocationExceeded(server, available, amount);
        uint256 slot = currentSlot();
        uint256 sold = soldInSlot[slot];
        uint256 left = sold < slotSupply ? slotSupply - sold : 0;
        if (left < amount) revert ETSCSlotSupplyExhausted(slot, left, amount);
        uint256 cost = Math.mulDiv(amount, price, ELECOIN, Math.Rounding.Ceil);
        if (msg.value != cost) revert ETSCWrongPayment(cost, msg.value);
        uint256 backing = Math.mulDiv(amount, redemptionPrice, ELECOIN, Math.Rounding.Ceil);
        allocation[server] = available - amount;
        totalAllocated -= amount;
        soldInSlot[slot] = sold + amount;
        redemptionBacking += backing;
        proceeds[server] += cost - backing;
        totalProceeds += cost - backing;
        // Elecoin is this contract's own token (no callback): the transfer cannot re-enter.
        elecoin.marketTransfer(address(this), msg.sender, amount);
        emit ElecoinsBought(msg.sender, server, amount, cost);
    }

    /**
     * @notice Whether `prosumer` may buy `energyWh` from `retailer` now (paper Algorithm 2,
     * step 4); the first failing requirement of {trade}, or `Qualified`.
     */
    function checkQualification(address prosumer, address retailer, uint256 energyWh)
        public
        view
        returns (Qualification)
    {
        if (energyWh == 0) return Qualification.ZeroAmount;
        User storage buyer = _users[prosumer];
        if (!buyer.registered) return Qualification.BuyerNotRegistered;
        if (!buyer.transRight) return Qualification.BuyerNoTransRight;
        if (prosumer == retailer) return Qualification.SelfTrade;
        User storage seller = _users[retailer];
        if (!seller.registered) return Qualification.RetailerNotRegistered;
        if (!seller.genRight) return Qualification.RetailerNoGenRight;
        if (seller.availPower < energyWh) return Qualification.InsufficientPower;
        // energyWh <= availPower (bounded by the meters' ratings), so the product cannot overflow.
        if (elecoin.balanceOf(prosumer) < energyWh * unitPowerPrice) return Qualification.InsufficientElecoins;
        return Qualification.Qualified;
    }

    /**
     * @notice Buy `energyWh` of `retailer`'s available power, paying energyWh * Q elecoins, in
     * one step (paper Algorithm 2, step 5: prosumer avaPower + y, elecoins - yQ; retailer
     * avaPower - y, elecoins + yQ).
     * Requirements: the market is not paused; as {checkQualification}, each failure with its
     * own error.
     */
    function trade(address retailer, uint256 energyWh) external whenNotPaused {
        if (energyWh == 0) revert ETSCZeroAmount();
        User storage buyer = _registered(msg.sender);
        if (!buyer.transRight) revert ETSCNoTransRight(msg.sender);
        if (msg.sender == retailer) revert ETSCSelfTrade(msg.sender);
        User storage seller = _registered(retailer);
        if (!seller.genRight) revert ETSCNoGenRight(retailer);
        if (seller.availPower < energyWh) revert ETSCInsufficientPower(retailer, seller.availPower, energyWh);
        uint256 cost = energyWh * unitPowerPrice;
        uint256 balance = elecoin.balanceOf(msg.sender);
        if (balance < cost) revert ETSCInsufficientElecoins(msg.sender, balance, cost);
        seller.availPower -= energyWh;
        buyer.availPower += energyWh;
        elecoin.marketTransfer(msg.sender, retailer, cost);
        emit Traded(msg.sender, retailer, energyWh, cost);
    }

    /**
     * @notice A retailer returns `amount` elecoin units to the reserve and is paid amount x
     * redemptionPrice (rounded down) from the backing, so that the reserve refills and the
     * market goes on after the first sale of the whole supply.
     * Requirements: the market is not paused; caller registered with the generation right;
     * `amount` > 0 and at most its balance.
     */
    function redeem(uint256 amount) external nonReentrant whenNotPaused {
        User storage retailer = _registered(msg.sender);
        if (!retailer.genRight) revert ETSCNoGenRight(msg.sender);
        if (amount == 0) revert ETSCZeroAmount();
        uint256 balance = elecoin.balanceOf(msg.sender);
        if (balance < amount) revert ETSCInsufficientElecoins(msg.sender, balance, amount);
        uint256 pay = Math.mulDiv(amount, redemptionPrice, ELECOIN);
        redemptionBacking -= pay;
        totalRedeemed += amount;
        elecoin.marketTransfer(msg.sender, address(this), amount);
        emit Redeemed(msg.sender, amount, pay);
        if (pay > 0) {
            (bool ok,) = msg.sender.call{value: pay}("");
            if (!ok) revert ETSCWithdrawFailed(msg.sender, pay);
        }
    }

    /**
     * @notice Withdraw the native currency received from elecoin sales (also after the server
     * was removed, and while the market is paused: nothing can stay stuck).
     * Requirements: the caller has proceeds.
     */
    function withdrawProceeds() external nonReentrant {
        uint256 amount = proceeds[msg.sender];
        if (amount == 0) revert ETSCNothingToWithdraw(msg.sender);
        proceeds[msg.sender] = 0;
        totalProceeds -= amount;
        emit ProceedsWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert ETSCWithdrawFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ electricity clearing

    /**
     * @notice A smart meter reports `energyWh` generated by its user, credited to the user's
     * available power (paper Algorithm 2, generation()).
     * Requirements: the market is not paused; caller is an active meter; `energyWh` > 0; the
     * user has the generation right; with this report the meter's reports in the current slot
     * stay within ratedW x slotSeconds / 3600 Wh.
     */
    function generation(uint256 energyWh) external whenNotPaused {
        Meter storage m = _activeMeter(msg.sender);
        if (energyWh == 0) revert ETSCZeroAmount();
        address userAddr = m.user;
        User storage user = _users[userAddr];
        if (!user.genRight) revert ETSCNoGenRight(userAddr);
        uint256 slot = currentSlot();
        uint256 reported = m.slot == slot ? m.reportedWh : 0;
        uint256 cap = _slotCapWh(m.ratedW);
        uint256 remaining = cap - reported;
        if (energyWh > remaining) revert ETSCReportAboveRating(msg.sender, remaining, energyWh);
        m.slot = uint64(slot);
        m.reportedWh = uint192(reported + energyWh);
        user.availPower += energyWh;
        user.totalGenPower += energyWh;
        _totalAvailPower += energyWh;
        _totalGenPower += energyWh;
        emit Generated(userAddr, msg.sender, energyWh);
    }

    /**
     * @notice A smart meter reports `energyWh` consumed by its user, drawn from the user's
     * available power (paper Algorithm 2, consumption()).
     * Requirements: the market is not paused; caller is an active meter; `energyWh` > 0; the
     * user has that much power.
     */
    function consumption(uint256 energyWh) external whenNotPaused {
        address userAddr = _activeMeter(msg.sender).user;
        if (energyWh == 0) revert ETSCZeroAmount();
        User storage user = _users[userAddr];
        if (user.availPower < energyWh) revert ETSCInsufficientPower(userAddr, user.availPower, energyWh);
        user.availPower -= energyWh;
        user.totalUsePower += energyWh;
        _totalAvailPower -= energyWh;
        _totalUsePower += energyWh;
        emit Consumed(userAddr, msg.sender, energyWh);
    }

    // ------------------------------------------------------------------ query module

    /// @notice The administrator (DEFAULT_ADMIN_ROLE holder).
    function administrator() external view returns (address) {
        return defaultAdmin();
    }

    /// @notice The trading slot of the current block.
    function currentSlot() public view returns (uint256) {
        return (block.timestamp - startTime) / slotSeconds;
    }

    /// @notice Elecoin units that may still be sold in the current slot (all servers together).
    function slotRemaining() external view returns (uint256) {
        uint256 sold = soldInSlot[currentSlot()];
        return sold < slotSupply ? slotSupply - sold : 0;
    }

    /// @notice Reserve not earmarked for any edge server.
    function unallocated() public view returns (uint256) {
        return elecoin.balanceOf(address(this)) - totalAllocated;
    }

    /// @notice The user an active meter reports for (zero if `meter` is not an active meter).
    function meterUser(address meter) public view returns (address) {
        Meter storage m = _meters[meter];
        return m.revoked ? address(0) : m.user;
    }

    /// @notice State of meter `meter` (zeros if never registered).
    function meterInfo(address meter) external view returns (MeterView memory view_) {
        Meter storage m = _meters[meter];
        view_.user = m.user;
        view_.ratedW = m.ratedW;
        view_.active = m.user != address(0) && !m.revoked;
        view_.slot = m.slot;
        view_.reportedWh = m.reportedWh;
        if (view_.active) {
            uint256 reported = m.slot == currentSlot() ? m.reportedWh : 0;
            view_.remainingWh = _slotCapWh(m.ratedW) - reported;
        }
    }

    /// @notice State of `accountAddr` (zeros for an unknown account).
    function account(address accountAddr) external view returns (AccountView memory view_) {
        User storage user = _users[accountAddr];
        view_.name = user.name;
        view_.registered = user.registered;
        view_.genRight = user.genRight;
        view_.transRight = user.transRight;
        view_.edgeServer = _edgeServers.contains(accountAddr);
        view_.meterOf = meterUser(accountAddr);
        view_.availPower = user.availPower;
        view_.avaElecoins = elecoin.balanceOf(accountAddr);
        view_.totalGenPower = user.totalGenPower;
        view_.totalUsePower = user.totalUsePower;
        view_.proceeds = proceeds[accountAddr];
    }

    /// @notice System totals; availPower always equals genPower - usePower.
    function totals() external view returns (Totals memory) {
        return Totals({
            users: _userList.length,
            availPower: _totalAvailPower,
            genPower: _totalGenPower,
            usePower: _totalUsePower,
            elecoinReserve: elecoin.balanceOf(address(this)),
            elecoinSupply: elecoin.totalSupply(),
            elecoinAllocated: totalAllocated,
            elecoinsRedeemed: totalRedeemed,
            redemptionBacking: redemptionBacking,
            proceedsOwed: totalProceeds
        });
    }

    /// @notice Number of registered users.
    function userCount() external view returns (uint256) {
        return _userList.length;
    }

    /// @notice Registered user number `index` (registration order).
    function userAt(uint256 index) external view returns (address) {
        return _userList[index];
    }

    /// @notice All edge servers (at most MAX_EDGE_SERVERS).
    function edgeServers() external view returns (address[] memory) {
        return _edgeServers.values();
    }

    /// @notice Whether `account_` is an edge server now.
    function isEdgeServer(address account_) external view returns (bool) {
        return _edgeServers.contains(account_);
    }

    // ------------------------------------------------------------------ internals

    function _setAllocation(address server, uint256 amount) private {
        uint256 current = allocation[server];
        if (amount > current) {
            uint256 free = unallocated();
            if (amount - current > free) revert ETSCInsufficientReserve(free, amount - current);
            totalAllocated += amount - current;
        } else {
            totalAllocated -= current - amount;
        }
        allocation[server] = amount;
        emit AllocationSet(server, amount);
    }

    function _setPriceBounds(uint256 newMinPrice, uint256 newMaxPrice) private {
        if (newMinPrice == 0 || newMinPrice > newMaxPrice || redemptionPrice > newMinPrice) {
            revert ETSCInvalidPriceBounds(newMinPrice, newMaxPrice, redemptionPrice);
        }
        minPrice = newMinPrice;
        maxPrice = newMaxPrice;
        emit PriceBoundsSet(newMinPrice, newMaxPrice);
    }

    function _checkPrice(uint256 price) private view {
        if (price < minPrice || price > maxPrice) revert ETSCPriceOutOfBounds(price, minPrice, maxPrice);
    }

    function _slotCapWh(uint256 ratedW) private view returns (uint256) {
        return ratedW * slotSeconds / 3600;
    }

    function _registered(address userAddr) private view returns (User storage user) {
        user = _users[userAddr];
        if (!user.registered) revert ETSCNotRegistered(userAddr);
    }

    function _activeMeter(address meter) private view returns (Meter storage m) {
        m = _meters[meter];
        if (m.user == address(0) || m.revoked) revert ETSCNotMeter(meter);
    }
}
