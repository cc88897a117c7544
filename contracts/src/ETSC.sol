// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Elecoin} from "./Elecoin.sol";

/**
 * @title ETSC, the electricity trading smart contract
 * @notice Paper Algorithm 2. Registration module (constructor, empower), transaction module
 * (buyToken at an edge server's declared price, checkQualification, trade), electricity
 * clearing module (smart-meter generation and consumption) and query module.
 *
 * Units: energy in Wh (integers); elecoins in the token's smallest unit (18 decimals);
 * `unitPowerPrice` (the paper's Q) in elecoin units per Wh; an edge server's price in wei of the
 * chain's native currency per whole elecoin (1e18 units).
 */
contract ETSC is ReentrancyGuard {
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

    struct User {
        string name;
        bool registered;
        bool genRight;
        bool transRight;
        uint256 availPower;
        uint256 totalGenPower;
        uint256 totalUsePower;
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

    struct Totals {
        uint256 users;
        uint256 availPower;
        uint256 genPower;
        uint256 usePower;
        uint256 elecoinReserve;
        uint256 elecoinSupply;
    }

    Elecoin public immutable elecoin;
    address public immutable administrator;
    uint256 public immutable unitPowerPrice;
    uint256 private constant ELECOIN = 1e18;

    mapping(address => User) private _users;
    address[] private _userList;
    mapping(address => bool) public isEdgeServer;
    address[] private _edgeServers;
    /// @notice The user each registered smart meter reports for (zero if not a meter).
    mapping(address => address) public meterUser;
    /// @notice Uniform price declared by each edge server (wei per elecoin; 0 = none).
    mapping(address => uint256) public uniformPrice;
    mapping(address => mapping(address => uint256)) private _personalPrice;
    /// @notice Native currency received by each edge server and not yet withdrawn.
    mapping(address => uint256) public proceeds;
    uint256 private _totalAvailPower;
    uint256 private _totalGenPower;
    uint256 private _totalUsePower;

    event UserEmpowered(address indexed user, string name, bool genRight, bool transRight);
    event RightsChanged(address indexed user, bool genRight, bool transRight);
    event MeterRegistered(address indexed meter, address indexed user);
    event PriceDeclared(address indexed server, uint256 weiPerElecoin);
    event PersonalPriceDeclared(address indexed server, address indexed prosumer, uint256 weiPerElecoin);
    event ElecoinsBought(address indexed prosumer, address indexed server, uint256 amount, uint256 paid);
    event Traded(address indexed prosumer, address indexed retailer, uint256 energyWh, uint256 elecoins);
    event Generated(address indexed user, address indexed meter, uint256 energyWh);
    event Consumed(address indexed user, address indexed meter, uint256 energyWh);
    event ProceedsWithdrawn(address indexed server, uint256 amount);

    error ETSCNotAdministrator(address account);
    error ETSCNotEdgeServer(address account);
    error ETSCNotMeter(address account);
    error ETSCNotRegistered(address account);
    error ETSCAlreadyRegistered(address account);
    error ETSCMeterAlreadyRegistered(address meter);
    error ETSCNoTransRight(address account);
    error ETSCNoGenRight(address account);
    error ETSCZeroAmount();
    error ETSCZeroAddress();
    error ETSCEmptyName();
    error ETSCSelfTrade(address account);
    error ETSCInsufficientPower(address account, uint256 available, uint256 needed);
    error ETSCInsufficientElecoins(address account, uint256 available, uint256 needed);
    error ETSCInsufficientReserve(uint256 available, uint256 needed);
    error ETSCPriceNotDeclared(address server, address prosumer);
    error ETSCWrongPayment(uint256 expected, uint256 paid);
    error ETSCNothingToWithdraw(address account);
    error ETSCWithdrawFailed(address account, uint256 amount);

    modifier onlyAdministrator() {
        if (msg.sender != administrator) revert ETSCNotAdministrator(msg.sender);
        _;
    }

    modifier onlyEdgeServer() {
        if (!isEdgeServer[msg.sender]) revert ETSCNotEdgeServer(msg.sender);
        _;
    }

    /**
     * @notice System initialisation (paper Algorithm 2, Registration module).
     * @param administrator_ Account allowed to empower users and register meters.
     * @param totalElecoins Elecoin supply, held by this contract and sold by the edge servers.
     * @param unitPowerPrice_ Elecoin units paid per Wh traded (the paper's Q).
     * @param edgeServersAccounts Accounts of the edge servers.
     * Requirements: no zero address among the administrator and the edge servers; Q > 0.
     */
    constructor(
        address administrator_,
        uint256 totalElecoins,
        uint256 unitPowerPrice_,
        address[] memory edgeServersAccounts
    ) {
        if (administrator_ == address(0)) revert ETSCZeroAddress();
        if (unitPowerPrice_ == 0) revert ETSCZeroAmount();
        administrator = administrator_;
        unitPowerPrice = unitPowerPrice_;
        for (uint256 i = 0; i < edgeServersAccounts.length; ++i) {
            address server = edgeServersAccounts[i];
            if (server == address(0)) revert ETSCZeroAddress();
            if (!isEdgeServer[server]) {
                isEdgeServer[server] = true;
                _edgeServers.push(server);
            }
        }
        elecoin = new Elecoin(totalElecoins, address(this));
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
     * @notice Register the smart meter that reports generation and consumption for `userAddr`.
     * Requirements: caller is the administrator; `meter` is not zero and not yet a meter;
     * `userAddr` is registered.
     */
    function registerMeter(address meter, address userAddr) external onlyAdministrator {
        if (meter == address(0)) revert ETSCZeroAddress();
        if (meterUser[meter] != address(0)) revert ETSCMeterAlreadyRegistered(meter);
        _registered(userAddr);
        meterUser[meter] = userAddr;
        emit MeterRegistered(meter, userAddr);
    }

    // ------------------------------------------------------------------ pricing

    /**
     * @notice Declare the uniform unit elecoin price (the Stackelberg leader's action).
     * Requirements: caller is an edge server; `weiPerElecoin` > 0.
     */
    function declarePrice(uint256 weiPerElecoin) external onlyEdgeServer {
        if (weiPerElecoin == 0) revert ETSCZeroAmount();
        uniformPrice[msg.sender] = weiPerElecoin;
        emit PriceDeclared(msg.sender, weiPerElecoin);
    }

    /**
     * @notice Declare a personal price for one prosumer (discriminated pricing); 0 clears it,
     * so that the prosumer pays the uniform price again.
     * Requirements: caller is an edge server; `prosumer` is registered.
     */
    function declarePriceFor(address prosumer, uint256 weiPerElecoin) external onlyEdgeServer {
        _registered(prosumer);
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
     * (paper Algorithm 2, step 1).
     * Requirements: caller registered with the trading right; `amount` > 0; `server` is an edge
     * server with a declared price for the caller; the reserve holds `amount`; `msg.value` equals
     * the quote.
     */
    function buyToken(address server, uint256 amount) external payable {
        User storage buyer = _registered(msg.sender);
        if (!buyer.transRight) revert ETSCNoTransRight(msg.sender);
        if (amount == 0) revert ETSCZeroAmount();
        if (!isEdgeServer[server]) revert ETSCNotEdgeServer(server);
        if (priceFor(server, msg.sender) == 0) revert ETSCPriceNotDeclared(server, msg.sender);
        uint256 reserve = elecoin.balanceOf(address(this));
        if (reserve < amount) revert ETSCInsufficientReserve(reserve, amount);
        uint256 cost = quote(server, msg.sender, amount);
        if (msg.value != cost) revert ETSCWrongPayment(cost, msg.value);
        proceeds[server] += cost;
        elecoin.transfer(msg.sender, amount);
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
        if (elecoin.balanceOf(prosumer) < energyWh * unitPowerPrice) return Qualification.InsufficientElecoins;
        return Qualification.Qualified;
    }

    /**
     * @notice Buy `energyWh` of `retailer`'s available power, paying energyWh * Q elecoins, in
     * one step (paper Algorithm 2, step 5: prosumer avaPower + y, elecoins - yQ; retailer
     * avaPower - y, elecoins + yQ).
     * Requirements: as {checkQualification}, each failure with its own error.
     */
    function trade(address retailer, uint256 energyWh) external {
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
     * @notice Withdraw the native currency received from elecoin sales.
     * Requirements: caller is an edge server with proceeds.
     */
    function withdrawProceeds() external nonReentrant onlyEdgeServer {
        uint256 amount = proceeds[msg.sender];
        if (amount == 0) revert ETSCNothingToWithdraw(msg.sender);
        proceeds[msg.sender] = 0;
        emit ProceedsWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert ETSCWithdrawFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ electricity clearing

    /**
     * @notice A smart meter reports `energyWh` generated by its user, credited to the user's
     * available power (paper Algorithm 2, generation()).
     * Requirements: caller is a registered meter; `energyWh` > 0; the user has the generation right.
     */
    function generation(uint256 energyWh) external {
        address userAddr = _meterUser(msg.sender);
        if (energyWh == 0) revert ETSCZeroAmount();
        User storage user = _users[userAddr];
        if (!user.genRight) revert ETSCNoGenRight(userAddr);
        user.availPower += energyWh;
        user.totalGenPower += energyWh;
        _totalAvailPower += energyWh;
        _totalGenPower += energyWh;
        emit Generated(userAddr, msg.sender, energyWh);
    }

    /**
     * @notice A smart meter reports `energyWh` consumed by its user, drawn from the user's
     * available power (paper Algorithm 2, consumption()).
     * Requirements: caller is a registered meter; `energyWh` > 0; the user has that much power.
     */
    function consumption(uint256 energyWh) external {
        address userAddr = _meterUser(msg.sender);
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

    /// @notice State of `accountAddr` (zeros for an unknown account).
    function account(address accountAddr) external view returns (AccountView memory view_) {
        User storage user = _users[accountAddr];
        view_.name = user.name;
        view_.registered = user.registered;
        view_.genRight = user.genRight;
        view_.transRight = user.transRight;
        view_.edgeServer = isEdgeServer[accountAddr];
        view_.meterOf = meterUser[accountAddr];
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
            elecoinSupply: elecoin.totalSupply()
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

    /// @notice All edge servers.
    function edgeServers() external view returns (address[] memory) {
        return _edgeServers;
    }

    // ------------------------------------------------------------------ internals

    function _registered(address userAddr) private view returns (User storage user) {
        user = _users[userAddr];
        if (!user.registered) revert ETSCNotRegistered(userAddr);
    }

    function _meterUser(address meter) private view returns (address userAddr) {
        userAddr = meterUser[meter];
        if (userAddr == address(0)) revert ETSCNotMeter(meter);
    }
}
