#!/usr/bin/env node
// The pinned solc-js behind the command line that crytic-compile (slither) expects from a native
// solc: `--version`, and `--standard-json` (input on stdin, output on stdout; other flags such as
// --allow-paths are ignored). Imports resolve from src/ and node_modules/ beside this file.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);

if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write("usage: solc-standard-json.mjs --version | --standard-json < input.json\n");
  process.exit(2);
}

function findImports(path) {
  for (const base of [here, join(here, "src"), join(here, "node_modules")]) {
    try {
      return { contents: readFileSync(join(base, path), "utf8") };
    } catch (err) {
      // try the next base
    }
  }
  return { error: `not found: ${path}` };
}

const input = readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
