// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface ISplit {
    function withdraw(address account, address token) external returns (uint256);
    function distribute(address token) external returns (uint256);
}

/// @notice A split recipient for the tests: it accepts ETH, refuses it, or tries to call
/// back into the split while being paid (and records whether that worked).
contract SplitProbe {
    enum Mode {
        Accept,
        Refuse,
        Reenter
    }

    Mode public mode;
    bool public reentered;

    error Refused();

    function setMode(Mode mode_) external {
        mode = mode_;
    }

    receive() external payable {
        if (mode == Mode.Refuse) revert Refused();
        if (mode == Mode.Reenter) {
            (bool withdrew,) = msg.sender.call(abi.encodeCall(ISplit.withdraw, (address(this), address(0))));
            (bool distributed,) = msg.sender.call(abi.encodeCall(ISplit.distribute, (address(0))));
            reentered = withdrew || distributed;
        }
    }
}
