/**
 * `goark mod zip|hash|check` — the module-format tools: build a module zip
 * from a directory as the go command would, print go.sum lines, and check an
 * untrusted zip, reporting every problem. The rules live in src/module/; this
 * file only wires files and output to them.
 */
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Command } from "commander";
import { BadRequestError, GoarkError, ZipError } from "../errors.ts";
import { hash1, hashGoMod } from "../module/dirhash.ts";
import { formatGoSumLine } from "../module/gosum.ts";
import { modulePathOf } from "../module/modfile.ts";
import { canonicalVersion, check } from "../module/path.ts";
import {
  type CheckedFiles,
  checkDir,
  checkedFilesError,
  checkZip,
  createFromDir,
  verifyZip,
} from "../module/zip.ts";
import { EXIT_FAILURE } from "./exit-codes.ts";
import { inferModuleVersion, irregularKind, readZipEntryHeads } from "./zip-entries.ts";

interface ModuleFlags {
  module?: string;
  version?: string;
}

export function registerMod(program: Command): void {
  const mod = program
    .command("mod")
    .description("Module zip and checksum tools (work like golang.org/x/mod)");

  mod
    .command("zip")
    .description("Create a module zip from DIR, listing the files included and those left out, with reasons")
    .argument("<dir>", "the module's root directory")
    .requiredOption("--module <path>", "module path")
    .requiredOption("--version <version>", "canonical version")
    .requiredOption("-o, --output <file>", "zip file to write")
    .action(async (dir: string, opts: ModuleFlags & { output: string }) => {
      const { module, version } = requireModuleVersion(opts);
      await zipCommand(dir, module, version, opts.output);
    });

  mod
    .command("hash")
    .description("Print the go.sum line of a module directory, module zip, or (with --gomod) go.mod file")
    .argument("<path>", "a directory, a .zip file, or a go.mod file with --gomod")
    .option("--module <path>", "module path (inferred from a zip's entries or a go.mod's module line)")
    .option("--version <version>", "canonical version (inferred from a zip's entries)")
    .option("--gomod", "PATH is a go.mod file: print the `M V/go.mod h1:…` line")
    .action(async (target: string, opts: ModuleFlags & { gomod?: boolean }) => {
      await hashCommand(target, opts);
    });

  mod
    .command("check")
    .description("Check a module zip as the go command would before extracting it; print every problem")
    .argument("<zip>", "the module zip")
    .option("--module <path>", "module path (default: inferred from the entry names)")
    .option("--version <version>", "canonical version (default: inferred from the entry names)")
    .action(async (zip: string, opts: ModuleFlags) => {
      await checkCommand(zip, opts);
    });
}

/** Flags naming a module version are usage: a bad one is exit 2, before any file is read. */
function validateModuleVersion(module: string, version: string): void {
  try {
    check(module, version);
  } catch (err) {
    if (err instanceof GoarkError)
      throw new BadRequestError(`--module/--version: ${err.message}`, { cause: err });
    throw err;
  }
  const canonical = canonicalVersion(version);
  if (canonical !== version)
    throw new BadRequestError(`--version: version "${version}" is not canonical (should be "${canonical}")`);
}

function requireModuleVersion(opts: ModuleFlags): { module: string; version: string } {
  if (opts.module === undefined || opts.version === undefined)
    throw new BadRequestError("both --module and --version are required");
  validateModuleVersion(opts.module, opts.version);
  return { module: opts.module, version: opts.version };
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** checkDir reports OS paths; show them relative to the directory the user named. */
function shownPath(dir: string, p: string): string {
  if (!isAbsolute(p) && !p.startsWith(dir + sep)) return p;
  const rel = relative(resolve(dir), resolve(p));
  return rel === "" ? "." : rel.split(sep).join("/");
}

function printChecked(dir: string, cf: CheckedFiles): void {
  for (const p of cf.valid) out(`included ${shownPath(dir, p)}`);
  for (const e of cf.omitted) out(`omitted  ${shownPath(dir, e.path)}: ${e.err}`);
  for (const e of cf.invalid) out(`invalid  ${shownPath(dir, e.path)}: ${e.err}`);
  if (cf.sizeError !== undefined) out(`invalid  ${cf.sizeError}`);
}

async function zipCommand(dir: string, module: string, version: string, output: string): Promise<void> {
  await requireDirectory(dir);
  const cf = await checkDir(dir);
  printChecked(dir, cf);
  const problem = checkedFilesError(cf);
  if (problem !== undefined) {
    const n = cf.invalid.length + (cf.sizeError === undefined ? 0 : 1);
    throw new ZipError(`${dir}: ${n} invalid file${n === 1 ? "" : "s"}; no zip written`, { cause: problem });
  }
  // createFromDir writes under a temporary name and renames: OUT is never partial.
  const made = await createFromDir(output, module, version, dir);
  out(`wrote ${output}: ${made.valid.length} files, ${made.omitted.length} omitted`);
  out(formatGoSumLine(module, version, made.h1, false));
}

async function hashCommand(target: string, opts: ModuleFlags & { gomod?: boolean }): Promise<void> {
  const info = await statOrThrow(target);
  if (opts.gomod) {
    if (!info.isFile()) throw new BadRequestError(`--gomod: ${target} is not a file`);
    if (opts.version === undefined) throw new BadRequestError("--gomod needs --version");
    const data = await readFile(target);
    const module = opts.module ?? modulePathOf(data);
    if (module === undefined || module === "")
      throw new BadRequestError(`${target} has no module line; pass --module`);
    validateModuleVersion(module, opts.version);
    out(formatGoSumLine(module, opts.version, hashGoMod(data), true));
    return;
  }
  if (info.isDirectory()) {
    const { module, version } = requireModuleVersion(opts);
    const cf = await checkDir(target);
    const problem = checkedFilesError(cf);
    if (problem !== undefined) {
      printChecked(target, { valid: [], omitted: [], invalid: cf.invalid, ...sizeErrorOf(cf) });
      throw new ZipError(`${target}: not a valid module tree; no hash`, { cause: problem });
    }
    // The hash of the zip `mod zip` (and the go command) would build: the
    // valid files only, named module@version/relpath.
    const prefix = `${module}@${version}/`;
    const rels = cf.valid.map((p) => shownPath(target, p));
    const byName = new Map(rels.map((rel) => [prefix + rel, rel]));
    const h1 = await hash1([...byName.keys()], (name) => createReadStream(join(target, byName.get(name)!)));
    out(formatGoSumLine(module, version, h1, false));
    return;
  }
  const { module, version } = await zipModuleVersion(target, opts);
  const { h1 } = await verifyZip(module, version, target);
  out(formatGoSumLine(module, version, h1, false));
}

async function checkCommand(zip: string, opts: ModuleFlags): Promise<void> {
  await statOrThrow(zip);
  const { module, version } = await zipModuleVersion(zip, opts);
  const problems: string[] = [];
  const reported = new Set<string>();
  const add = (line: string, path?: string) => {
    if (!problems.includes(line)) problems.push(line);
    if (path !== undefined) reported.add(path);
  };

  // x/mod's CheckZip: names, prefix, collisions, go.mod placement, sizes.
  const cf = await checkZip(module, version, zip);
  for (const e of cf.invalid) add(`${e.path}: ${e.err}`, e.path);
  if (cf.sizeError !== undefined) add(cf.sizeError);
  // x/mod never looks at entry modes (its Unzip writes a symlink entry's
  // target as a regular file); goark refuses them when storing a zip.
  for (const head of await readZipEntryHeads(zip)) {
    const kind = irregularKind(head.mode);
    if (kind !== undefined) add(`${head.name}: ${kind}`, head.name);
  }
  // The proxy's one-pass check before storing adds what x/mod does not look
  // at (CRCs, actual vs declared sizes, encryption, compression bombs). It
  // stops at its first problem, so it adds one line unless that entry is
  // already reported.
  try {
    await verifyZip(module, version, zip);
  } catch (err) {
    if (!(err instanceof GoarkError)) throw err;
    if (err.path === undefined || !reported.has(err.path)) add(err.message);
  }
  if (problems.length > 0) {
    for (const p of problems) out(p);
    process.exitCode = EXIT_FAILURE;
    process.stderr.write(
      `goark: ${zip}: ${problems.length} problem${problems.length === 1 ? "" : "s"} in ${module}@${version}\n`,
    );
    return;
  }
  out(`${zip}: ok: ${module}@${version}, ${cf.valid.length} files`);
}

/** The module and version of a zip: the flags, else inferred from its entry names. */
async function zipModuleVersion(
  zip: string,
  opts: ModuleFlags,
): Promise<{ module: string; version: string }> {
  let { module, version } = opts;
  if (module === undefined || version === undefined) {
    const inferred = inferModuleVersion((await readZipEntryHeads(zip)).map((h) => h.name));
    if (inferred === undefined)
      throw new BadRequestError(`${zip}: no entry is named module@version/…; pass --module and --version`);
    module ??= inferred.module;
    version ??= inferred.version;
  }
  validateModuleVersion(module, version);
  return { module, version };
}

function sizeErrorOf(cf: CheckedFiles): Pick<CheckedFiles, "sizeError"> {
  return cf.sizeError === undefined ? {} : { sizeError: cf.sizeError };
}

async function statOrThrow(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new BadRequestError(`${path}: cannot be read (${code})`, { path, cause: err });
  }
}

async function requireDirectory(dir: string): Promise<void> {
  const info = await statOrThrow(dir);
  if (!info.isDirectory()) throw new BadRequestError(`${dir} is not a directory`);
}
