// Compiles contracts/src with the pinned npm solc, offline, into contracts/build/<Name>.json:
// ABI, bytecode, compiler version and settings, and a SHA-256 over every source (ours and
// OpenZeppelin's), so Python needs no compiler. `node compile.js --check` recompiles and
// fails if the committed artifacts differ from what the sources give.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = __dirname;
const CONTRACTS = {
  "LedgerlineWorks.sol": "LedgerlineWorks",
  "LedgerlineSplit.sol": "LedgerlineSplit",
  "LedgerlineSplits.sol": "LedgerlineSplits",
  "bench/BaselineURIStorage.sol": "BaselineURIStorage",
  "bench/TestToken.sol": "TestToken",
  "bench/SplitProbe.sol": "SplitProbe",
};
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  viaIR: false,
  metadata: { bytecodeHash: "none" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function findImport(importPath) {
  const candidates = [path.join(ROOT, "src", importPath), path.join(ROOT, "node_modules", importPath)];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `not found: ${importPath}` };
}

function compile() {
  const sources = {};
  for (const file of Object.keys(CONTRACTS)) {
    sources[file] = { content: fs.readFileSync(path.join(ROOT, "src", file), "utf8") };
  }
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const used = {};
  const output = JSON.parse(solc.compile(JSON.stringify(input), {
    import: (p) => { const r = findImport(p); if (r.contents) used[p] = r.contents; return r; },
  }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  // OpenZeppelin's own warnings are theirs to fix; ours are printed.
  const ours = (e) => !(e.sourceLocation && e.sourceLocation.file.startsWith("@openzeppelin/"));
  for (const e of (output.errors || []).filter(ours)) console.error(e.formattedMessage);
  if (errors.length) process.exit(1);
  for (const [file, content] of Object.entries(sources)) used[file] = content.content;
  const digest = crypto.createHash("sha256");
  for (const name of Object.keys(used).sort()) digest.update(name + "\0" + used[name] + "\0");
  const artifacts = {};
  for (const [file, name] of Object.entries(CONTRACTS)) {
    const c = output.contracts[file][name];
    artifacts[name] = JSON.stringify({
      _generated: "by contracts/compile.js from contracts/src; do not edit (make contracts)",
      contractName: name,
      source: `contracts/src/${file}`,
      compiler: { name: "solc", version: solc.version(), settings: { ...SETTINGS, outputSelection: undefined } },
      sourcesSha256: digest.copy().digest("hex"),
      sources: Object.keys(used).sort(),
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    }, null, 2) + "\n";
  }
  return artifacts;
}

const check = process.argv.includes("--check");
const artifacts = compile();
let stale = false;
for (const [name, text] of Object.entries(artifacts)) {
  const target = path.join(ROOT, "build", `${name}.json`);
  if (check) {
    const committed = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
    if (committed !== text) { console.error(`${target} differs from its sources: run make contracts`); stale = true; }
  } else {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
    console.log(`wrote ${path.relative(process.cwd(), target)} (solc ${solc.version()})`);
  }
}
if (stale) process.exit(1);
if (check) console.log("contracts/build matches contracts/src");
