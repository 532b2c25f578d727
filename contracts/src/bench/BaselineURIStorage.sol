// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721URIStorage} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721URIStorage.sol";

/// @notice The plain OpenZeppelin way, for bench/gas.py to measure against: one token and
/// one stored URI per mint.
contract BaselineURIStorage is ERC721URIStorage {
    uint256 private _nextTokenId = 1;

    constructor() ERC721("Baseline", "BASE") {}

    function mint(address to, string calldata uri) external returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _mint(to, tokenId);
        _setTokenURI(tokenId, uri);
    }
}
