// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {LedgerlineSplit} from "./LedgerlineSplit.sol";

/// @title The factory of Ledgerline's royalty splits: one clone per set of recipients and parts.
/// @notice A split's address follows from its recipients and parts alone (CREATE2 with the
/// list as the clone's immutable arguments), so it is known before it exists and one list has
/// one split. Creating an existing split again returns it.
contract LedgerlineSplits {
    uint256 public constant MAX_RECIPIENTS = 500;
    address public immutable implementation;

    event SplitCreated(address indexed split, uint256 recipients);

    error InvalidSplit(string reason);

    constructor() {
        implementation = address(new LedgerlineSplit());
    }

    /// @param accounts the recipients, in ascending order, each once
    /// @param parts each recipient's part (> 0); its share is its part over their sum
    function createSplit(address[] calldata accounts, uint96[] calldata parts) external returns (address split) {
        bytes memory args = _args(accounts, parts);
        split = Clones.predictDeterministicAddressWithImmutableArgs(implementation, args, 0);
        if (split.code.length == 0) {
            Clones.cloneDeterministicWithImmutableArgs(implementation, args, 0);
            emit SplitCreated(split, accounts.length);
        }
    }

    /// @notice The address of the split of these recipients and parts, made or not.
    function predictSplit(address[] calldata accounts, uint96[] calldata parts) external view returns (address) {
        return Clones.predictDeterministicAddressWithImmutableArgs(implementation, _args(accounts, parts), 0);
    }

    /// @dev Checks the list and packs it, one word a recipient: its address above its part.
    function _args(address[] calldata accounts, uint96[] calldata parts) private pure returns (bytes memory args) {
        uint256 count = accounts.length;
        if (count == 0 || count > MAX_RECIPIENTS) revert InvalidSplit("a split has 1 to 500 recipients");
        if (parts.length != count) revert InvalidSplit("one part per recipient");
        args = new bytes(count * 32);
        address previous;
        for (uint256 i = 0; i < count; ++i) {
            address account = accounts[i];
            if (account <= previous) revert InvalidSplit("recipients must be ascending, unique and non-zero");
            if (parts[i] == 0) revert InvalidSplit("every part must be above 0");
            uint256 word = (uint256(uint160(account)) << 96) | parts[i];
            assembly ("memory-safe") {
                mstore(add(add(args, 32), mul(i, 32)), word)
            }
            previous = account;
        }
    }
}
