#!/usr/bin/env node
// The goark command. Runs the compiled CLI (npm run build, part of the README's
// set-up command); falls back to the TypeScript sources through tsx in a checkout
// that was not built.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const built = new URL("../dist/src/cli/main.js", import.meta.url);
if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
