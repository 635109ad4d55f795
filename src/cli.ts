#!/usr/bin/env node
// The `poolguard` command (package.json "bin"). It loads pg only for the commands that connect.
import { main } from './audit/cli.js';

main(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
}).then((code) => {
  process.exitCode = code;
});
