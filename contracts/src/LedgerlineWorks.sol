// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title Ledgerline works: one ERC-721 token per generated work.
/// @notice Works are minted in batches. Each token's content hash (the SHA-256 of the
/// work's bytes) is recorded in `tokenOfContent`, which refuses a second token for the
/// same content and lets anyone holding a file find its token. A batch stores its owner,
/// royalty and metadata folder once (lazy ownership, as OpenZeppelin's ERC721Consecutive
/// does, but usable after deployment); each token still gets its ERC-721 Transfer event,
/// as the standard requires outside contract creation. Token N's metadata is
/// ipfs://<batch folder CID>/N.json. Each token's audio watermark (the 64-bit mark written into
/// its sound) is announced with an indexed event, so a copy whose bytes and credentials are gone
/// still names its token from the chain alone. Dataset roots and model hashes are anchored with events.
/// The organisations' signing keys are kept here with the times they were anchored and retired,
/// and so are withdrawals of training consent per dataset root, so that anyone can check a
/// work's signed manifest and its data's consent from the chain alone. The C2PA certificates of
/// those keys, and the CA that issued them, are vouched for here too: a verifier loads the CA as
/// its trust anchor from the chain, so the credentials read Trusted without any outside list.
contract LedgerlineWorks is ERC721, ERC2981, AccessControl, IERC4906 {
    using Checkpoints for Checkpoints.Trace208;

    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @dev About 27k gas a token: a batch of 1,000 fits well inside a 30M-gas block.
    uint256 public constant MAX_BATCH = 1000;

    struct Batch {
        address owner; // who received the batch; tokens transferred since have their own record
        uint96 royaltyBps; // ERC-2981 fee in basis points
        address royaltyReceiver;
        uint64 firstTokenId;
        uint32 count;
        string metadataCid; // IPFS folder holding <tokenId>.json for each token
    }

    Batch[] private _batches;
    /// @dev first token id of each batch -> batch index, for a binary search by token id.
    Checkpoints.Trace208 private _batchStarts;
    uint256 private _nextTokenId = 1; // 0 means "none" in tokenOfContent

    /// @notice The token minted for a content hash (SHA-256 of the work's bytes), or 0.
    mapping(bytes32 contentHash => uint256 tokenId) public tokenOfContent;
    /// @notice When a dataset version's Merkle root, or a model's weights hash, was anchored.
    mapping(bytes32 merkleRoot => uint256 timestamp) public datasetAnchoredAt;
    mapping(bytes32 weightsHash => uint256 timestamp) public modelAnchoredAt;

    struct SigningKey {
        bytes16 organisation; // the organisation's UUID
        uint64 anchoredAt;
        uint64 retiredAt; // 0 while the key is in use
        bytes publicKey; // DER SubjectPublicKeyInfo (ECDSA P-256); its SHA-256 is the key id
    }

    struct Withdrawal {
        bytes32 fileHash; // SHA-256 of the dataset file whose rights holder withdrew consent
        uint64 withdrawnAt;
    }

    /// @notice Signing keys by the SHA-256 of their DER public key (Ledgerline's key id).
    mapping(bytes32 keyHash => SigningKey) private _keys;
    mapping(bytes32 merkleRoot => Withdrawal[]) private _withdrawals;
    mapping(bytes32 merkleRoot => mapping(bytes32 fileHash => uint256 timestamp)) public consentWithdrawnAt;

    struct Certificate {
        bytes32 keyHash; // the anchored key it certifies; 0 for a trust anchor (a CA)
        uint64 anchoredAt;
        uint64 revokedAt; // 0 while it is vouched for
    }

    /// @notice C2PA certificates the platform vouches for, by the SHA-256 of their DER: each
    /// organisation's signing certificate, bound to its anchored key, and the CA that issued
    /// them (a trust anchor, kept whole in `trustAnchors` so a verifier can load it from here).
    mapping(bytes32 certificateHash => Certificate) public certificates;
    bytes[] private _trustAnchors;

    event BatchMinted(uint256 indexed batchId, uint256 firstTokenId, string metadataCid, bytes32[] contentHashes);
    /// @notice The watermark in a token's audio. Anonymous, so its one topic is the mark itself
    /// (eth_getLogs with topics [mark] finds it) and it costs about 1,000 gas a token.
    event Watermarked(bytes8 indexed mark, uint256 tokenId) anonymous;
    event DatasetAnchored(bytes32 indexed merkleRoot, string manifestUri);
    event ModelAnchored(bytes32 indexed weightsHash, bytes32 indexed datasetsCommitment, string manifestUri);

    event KeyAnchored(bytes32 indexed keyHash, bytes16 indexed organisation);
    event KeyRetired(bytes32 indexed keyHash);
    event ConsentWithdrawn(bytes32 indexed merkleRoot, bytes32 indexed fileHash);
    event CertificateAnchored(bytes32 indexed certificateHash, bytes32 indexed keyHash);
    event CertificateRevoked(bytes32 indexed certificateHash);

    error DuplicateContent(bytes32 contentHash, uint256 tokenId);
    error InvalidBatch(string reason);
    error AlreadyAnchored(bytes32 value);
    error NotAnchored(bytes32 value);

    constructor(string memory name_, string memory symbol_, address admin) ERC721(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice Mint one token per content hash to `to`, in one transaction.
    /// @param watermarks each token's 8-byte audio watermark, packed in the order of
    /// `contentHashes` (8 bytes per token), or empty; a zero mark means none.
    /// @return firstTokenId the first new token; the others follow consecutively.
    function mintBatch(
        address to,
        bytes32[] calldata contentHashes,
        bytes calldata watermarks,
        string calldata metadataCid,
        address royaltyReceiver,
        uint96 royaltyBps
    ) external onlyRole(MINTER_ROLE) returns (uint256 firstTokenId) {
        uint256 count = contentHashes.length;
        if (to == address(0)) revert ERC721InvalidReceiver(address(0));
        if (count == 0 || count > MAX_BATCH) revert InvalidBatch("batch size must be 1 to 1000");
        if (bytes(metadataCid).length == 0) revert InvalidBatch("metadata CID is empty");
        if (royaltyBps > _feeDenominator()) revert InvalidBatch("royalty above 100%");
        if (watermarks.length != 0 && watermarks.length != count * 8) {
            revert InvalidBatch("watermarks must be 8 bytes per token, or none");
        }
        firstTokenId = _nextTokenId;
        _mintEach(to, contentHashes, watermarks, firstTokenId);
        _batchRecord(to, contentHashes, metadataCid, royaltyReceiver, royaltyBps, firstTokenId);
    }

    /// @dev The batch's record, its owner's balance and its event (apart from mintBatch, whose
    /// locals would not fit the stack).
    function _batchRecord(
        address to,
        bytes32[] calldata contentHashes,
        string calldata metadataCid,
        address royaltyReceiver,
        uint96 royaltyBps,
        uint256 firstTokenId
    ) private {
        uint256 count = contentHashes.length;
        _nextTokenId = firstTokenId + count;
        uint256 batchId = _batches.length;
        _batches.push(Batch(to, royaltyBps, royaltyReceiver, uint64(firstTokenId), uint32(count), metadataCid));
        _batchStarts.push(uint48(firstTokenId), uint208(batchId));
        _increaseBalance(to, uint128(count));
        emit BatchMinted(batchId, firstTokenId, metadataCid, contentHashes);
    }

    /// @dev Each token's content record, Transfer event and watermark event.
    function _mintEach(address to, bytes32[] calldata contentHashes, bytes calldata watermarks, uint256 firstTokenId)
        private
    {
        bool marked = watermarks.length != 0;
        for (uint256 i = 0; i < contentHashes.length; ++i) {
            bytes32 contentHash = contentHashes[i];
            uint256 existing = tokenOfContent[contentHash];
            if (existing != 0) revert DuplicateContent(contentHash, existing);
            tokenOfContent[contentHash] = firstTokenId + i;
            emit Transfer(address(0), to, firstTokenId + i);
            if (marked) _announceMark(watermarks, i, firstTokenId + i);
        }
    }

    /// @dev Emits Watermarked(mark i, tokenId) unless mark i is zero; in assembly, as Solidity's
    /// checked slice of calldata costs more than the event itself (mintBatch checked the length).
    function _announceMark(bytes calldata watermarks, uint256 i, uint256 tokenId) private {
        assembly ("memory-safe") {
            let mark := and(
                calldataload(add(watermarks.offset, mul(i, 8))),
                0xffffffffffffffff000000000000000000000000000000000000000000000000
            )
            if mark {
                mstore(0, tokenId)
                log1(0, 32, mark) // anonymous: the one topic is the mark, as Watermarked declares
            }
        }
    }

    /// @notice Point a batch at a new metadata folder (ERC-4906 tells indexers to refetch).
    function setBatchMetadata(uint256 batchId, string calldata metadataCid) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (batchId >= _batches.length) revert InvalidBatch("no such batch");
        if (bytes(metadataCid).length == 0) revert InvalidBatch("metadata CID is empty");
        Batch storage batch = _batches[batchId];
        batch.metadataCid = metadataCid;
        emit BatchMetadataUpdate(batch.firstTokenId, batch.firstTokenId + batch.count - 1);
    }

    function anchorDataset(bytes32 merkleRoot, string calldata manifestUri) external onlyRole(MINTER_ROLE) {
        if (datasetAnchoredAt[merkleRoot] != 0) revert AlreadyAnchored(merkleRoot);
        datasetAnchoredAt[merkleRoot] = block.timestamp;
        emit DatasetAnchored(merkleRoot, manifestUri);
    }

    /// @param datasetsCommitment a commitment to the dataset roots the model was trained on
    function anchorModel(bytes32 weightsHash, bytes32 datasetsCommitment, string calldata manifestUri)
        external
        onlyRole(MINTER_ROLE)
    {
        if (modelAnchoredAt[weightsHash] != 0) revert AlreadyAnchored(weightsHash);
        modelAnchoredAt[weightsHash] = block.timestamp;
        emit ModelAnchored(weightsHash, datasetsCommitment, manifestUri);
    }

    /// @notice Publish an organisation's signing key; its id is the SHA-256 of `publicKey`.
    function anchorKey(bytes calldata publicKey, bytes16 organisation)
        external
        onlyRole(MINTER_ROLE)
        returns (bytes32 keyHash)
    {
        if (publicKey.length == 0) revert InvalidBatch("public key is empty");
        keyHash = sha256(publicKey);
        if (_keys[keyHash].anchoredAt != 0) revert AlreadyAnchored(keyHash);
        _keys[keyHash] = SigningKey(organisation, uint64(block.timestamp), 0, publicKey);
        emit KeyAnchored(keyHash, organisation);
    }

    /// @notice Record that a key is no longer used: what it signed before stays verifiable.
    function retireKey(bytes32 keyHash) external onlyRole(MINTER_ROLE) {
        SigningKey storage key = _keys[keyHash];
        if (key.anchoredAt == 0) revert NotAnchored(keyHash);
        if (key.retiredAt != 0) revert AlreadyAnchored(keyHash);
        key.retiredAt = uint64(block.timestamp);
        emit KeyRetired(keyHash);
    }

    /// @notice Vouch for a C2PA certificate (DER): a trust anchor when `keyHash` is 0, else the
    /// certificate of that anchored signing key.
    function anchorCertificate(bytes calldata certificate, bytes32 keyHash)
        external
        onlyRole(MINTER_ROLE)
        returns (bytes32 certificateHash)
    {
        if (certificate.length == 0) revert InvalidBatch("certificate is empty");
        if (keyHash != 0 && _keys[keyHash].anchoredAt == 0) revert NotAnchored(keyHash);
        certificateHash = sha256(certificate);
        if (certificates[certificateHash].anchoredAt != 0) revert AlreadyAnchored(certificateHash);
        certificates[certificateHash] = Certificate(keyHash, uint64(block.timestamp), 0);
        if (keyHash == 0) _trustAnchors.push(certificate);
        emit CertificateAnchored(certificateHash, keyHash);
    }

    /// @notice Stop vouching for a certificate (a CA or a key's certificate whose key is
    /// compromised): a revoked trust anchor leaves `trustAnchors`.
    function revokeCertificate(bytes32 certificateHash) external onlyRole(MINTER_ROLE) {
        Certificate storage found = certificates[certificateHash];
        if (found.anchoredAt == 0) revert NotAnchored(certificateHash);
        if (found.revokedAt != 0) revert AlreadyAnchored(certificateHash);
        found.revokedAt = uint64(block.timestamp);
        emit CertificateRevoked(certificateHash);
    }

    /// @notice Record that a file of an anchored dataset version may no longer be trained on.
    function withdrawConsent(bytes32 merkleRoot, bytes32 fileHash) external onlyRole(MINTER_ROLE) {
        if (datasetAnchoredAt[merkleRoot] == 0) revert NotAnchored(merkleRoot);
        if (consentWithdrawnAt[merkleRoot][fileHash] != 0) revert AlreadyAnchored(fileHash);
        consentWithdrawnAt[merkleRoot][fileHash] = block.timestamp;
        _withdrawals[merkleRoot].push(Withdrawal(fileHash, uint64(block.timestamp)));
        emit ConsentWithdrawn(merkleRoot, fileHash);
    }

    function setDefaultRoyalty(address receiver, uint96 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDefaultRoyalty(receiver, feeBps);
    }

    // --- reads ---

    function totalMinted() external view returns (uint256) {
        return _nextTokenId - 1;
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    /// @notice A signing key's organisation, times and DER public key (anchoredAt 0: unknown).
    function signingKey(bytes32 keyHash) external view returns (SigningKey memory) {
        return _keys[keyHash];
    }

    /// @notice The trust anchors (DER CA certificates) the platform vouches for, oldest first;
    /// revoked ones left out.
    function trustAnchors() external view returns (bytes[] memory anchors) {
        uint256 held;
        anchors = new bytes[](_trustAnchors.length);
        for (uint256 i = 0; i < _trustAnchors.length; i++) {
            if (certificates[sha256(_trustAnchors[i])].revokedAt == 0) anchors[held++] = _trustAnchors[i];
        }
        assembly {
            mstore(anchors, held) // the array's length: the anchors still held
        }
    }

    /// @notice Every consent withdrawal recorded for a dataset version's root, oldest first.
    function consentWithdrawals(bytes32 merkleRoot) external view returns (Withdrawal[] memory) {
        return _withdrawals[merkleRoot];
    }

    function batchOf(uint256 tokenId) public view returns (uint256 batchId, Batch memory batch) {
        if (tokenId == 0 || tokenId >= _nextTokenId) revert ERC721NonexistentToken(tokenId);
        batchId = _batchStarts.upperLookup(uint48(tokenId));
        batch = _batches[batchId];
    }

    /// @notice True when `contentHash` is the content of `tokenId`: the on-chain proof of a work's bytes.
    function isContentOf(uint256 tokenId, bytes32 contentHash) external view returns (bool) {
        return tokenId != 0 && tokenOfContent[contentHash] == tokenId;
    }

    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        (, Batch memory batch) = batchOf(tokenId);
        return string.concat("ipfs://", batch.metadataCid, "/", Strings.toString(tokenId), ".json");
    }

    function royaltyInfo(uint256 tokenId, uint256 salePrice) public view override returns (address, uint256) {
        if (tokenId != 0 && tokenId < _nextTokenId) {
            (, Batch memory batch) = batchOf(tokenId);
            if (batch.royaltyReceiver != address(0)) {
                return (batch.royaltyReceiver, (salePrice * batch.royaltyBps) / _feeDenominator());
            }
        }
        return super.royaltyInfo(tokenId, salePrice);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, ERC2981, AccessControl, IERC165)
        returns (bool)
    {
        return interfaceId == bytes4(0x49064906) || super.supportsInterface(interfaceId);
    }

    // --- lazy ownership ---

    /// @dev A token never transferred has no record of its own: its owner is its batch's.
    /// There is no burn function (and ERC721 refuses transfers to address 0), so "no
    /// record" always means "still with the batch owner".
    function _ownerOf(uint256 tokenId) internal view override returns (address) {
        address owner = super._ownerOf(tokenId);
        if (owner != address(0) || tokenId == 0 || tokenId >= _nextTokenId) return owner;
        return _batches[_batchStarts.upperLookup(uint48(tokenId))].owner;
    }
}
