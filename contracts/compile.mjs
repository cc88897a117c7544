// Compile gridledger's contracts with the pinned solc-js through the standard-JSON API and
// write one artifact per contract (ABI, bytecode, compiler, EVM version, source hashes).
// Usage: node compile.mjs [OUT_DIR]   (default: ../src/gridledger/ledger/artifacts)
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, "..", "src", "gridledger", "ledger", "artifacts"));
const EVM_VERSION = "cancun"; // py-evm lacks osaka's CLZ opcode, solc's default
const CONTRACTS = ["Elecoin", "ETSC", "EPOS", "UPOS", "ProofStaking", "V2VSettlement"];

const sources = {};
for (const file of readdirSync(join(here, "src")).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: readFileSync(join(here, "src", file), "utf8") };
}

function findImports(path) {
  try {
    return { contents: readFileSync(join(here, "node_modules", path), "utf8") };
  } catch (err) {
    return { error: `not found: ${path}` };
  }
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const e of output.errors ?? []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const sha = (text) => createHash("sha256").update(text).digest("hex");
const sourceHashes = {};
for (const [name, src] of Object.entries(output.sources)) {
  const text = sources[name]?.content ?? findImports(name).contents;
  sourceHashes[name] = sha(text);
}

mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!CONTRACTS.includes(name)) continue;
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler: { name: "solc-js", version: solc.version() },
      settings: { evmVersion: EVM_VERSION, optimizer: input.settings.optimizer },
      sources: sourceHashes,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    console.log(`${name}: ${c.evm.deployedBytecode.object.length / 2} bytes deployed`);
  }
}
