// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title A royalty split: what arrives here (ETH or any ERC-20) is shared among fixed recipients.
/// @notice Each split is an EIP-1167 clone of one implementation, made by `LedgerlineSplits`,
/// whose recipients and parts are the clone's immutable arguments: creating one writes no
/// storage, and nobody can change them. Payments are pulled: `distribute` (anyone may call it)
/// credits every recipient its part of what arrived since the last distribution, and
/// `withdraw` (anyone may call it, for any recipient) pays a recipient its credit. A recipient
/// whose wallet refuses the payment only fails its own withdrawal; its credit stays.
/// No wei is lost to rounding: each recipient gets the floor of its share, and what the
/// floors leave (fewer wei than there are recipients) goes to the largest part, the first
/// of equal largest, so every wei that arrives is credited and can be withdrawn.
contract LedgerlineSplit is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev The implementation's own address: it holds no recipients, so it refuses to act.
    address private immutable _self = address(this);

    /// @notice Credited to recipients and not yet withdrawn, by token (address 0: ETH).
    mapping(address token => uint256) public owed;
    /// @dev A recipient's credit plus one once it has been credited, so that a withdrawal leaves
    /// its slot at 1 rather than 0 and the next distribution updates a slot instead of creating
    /// one (about 5,000 gas rather than 22,000). 0xSplits leaves 1 wei behind for the same saving;
    /// this keeps the wei and spends the bookkeeping instead.
    mapping(address token => mapping(address account => uint256)) private _credit;

    event Distributed(address indexed token, address indexed caller, uint256 amount);
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    error NotASplit();
    error NothingOwed(address account, address token);

    modifier onlyClone() {
        if (address(this) == _self) revert NotASplit();
        _;
    }

    receive() external payable onlyClone {}

    /// @notice Credit every recipient its part of the `token` (address 0: ETH) that arrived
    /// since the last distribution; returns how much that was.
    function distribute(address token) external nonReentrant onlyClone returns (uint256 amount) {
        amount = _balance(token) - owed[token];
        if (amount == 0) return 0;
        owed[token] += amount;
        bytes memory args = Clones.fetchCloneArgs(address(this));
        (uint256 total, uint256 top) = _totalAndLargest(args);
        uint256 given;
        for (uint256 i = 0; i < args.length / 32; ++i) {
            if (i == top) continue;
            (address account, uint256 part) = _recipient(args, i);
            uint256 share = Math.mulDiv(amount, part, total);
            if (share != 0) {
                _add(token, account, share);
                given += share;
            }
        }
        (address largest,) = _recipient(args, top);
        _add(token, largest, amount - given);
        emit Distributed(token, msg.sender, amount);
    }

    /// @notice Pay `account` all its `token` credit; the money always goes to `account`.
    function withdraw(address account, address token) external nonReentrant returns (uint256 amount) {
        uint256 slot = _credit[token][account];
        if (slot <= 1) revert NothingOwed(account, token);
        amount = slot - 1;
        _credit[token][account] = 1;
        owed[token] -= amount;
        if (token == address(0)) {
            Address.sendValue(payable(account), amount);
        } else {
            IERC20(token).safeTransfer(account, amount);
        }
        emit Withdrawn(account, token, amount);
    }

    // --- reads ---

    function withdrawable(address account, address token) external view returns (uint256) {
        uint256 slot = _credit[token][account];
        return slot == 0 ? 0 : slot - 1;
    }

    /// @notice What arrived since the last distribution: what `distribute(token)` would share now.
    function undistributed(address token) external view onlyClone returns (uint256) {
        return _balance(token) - owed[token];
    }

    /// @notice The recipients, in ascending order, and their parts (each one's share is its
    /// part over the sum of the parts).
    function recipients() external view onlyClone returns (address[] memory accounts, uint256[] memory parts) {
        bytes memory args = Clones.fetchCloneArgs(address(this));
        uint256 count = args.length / 32;
        accounts = new address[](count);
        parts = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            (accounts[i], parts[i]) = _recipient(args, i);
        }
    }

    function _add(address token, address account, uint256 amount) private {
        uint256 slot = _credit[token][account];
        _credit[token][account] = (slot == 0 ? 1 : slot) + amount;
    }

    function _balance(address token) private view returns (uint256) {
        return token == address(0) ? address(this).balance : IERC20(token).balanceOf(address(this));
    }

    /// @dev The sum of the parts, and the index of the largest (the first of equal largest).
    function _totalAndLargest(bytes memory args) private pure returns (uint256 total, uint256 top) {
        uint256 largest;
        for (uint256 i = 0; i < args.length / 32; ++i) {
            (, uint256 part) = _recipient(args, i);
            total += part;
            if (part > largest) (largest, top) = (part, i);
        }
    }

    /// @dev Recipient i of the clone's arguments: one word each, the address above a uint96 part.
    function _recipient(bytes memory args, uint256 i) private pure returns (address account, uint256 part) {
        uint256 word;
        assembly ("memory-safe") {
            word := mload(add(add(args, 32), mul(i, 32)))
        }
        return (address(uint160(word >> 96)), uint96(word));
    }
}
