/**
 * The extension point of bundles: material that travels with the module
 * files but is not in the store's module layout. The checksum database
 * (src/sumdb/, issue 5) plugs in here: at export it adds its records, tiles
 * and goark's own log as files plus a manifest section; at import it checks
 * the carried versions' hashes against that material before anything is
 * committed, and records the imported versions in goark's log afterwards.
 * Signing keys never travel: an extension must not export them.
 */
import type { Readable } from "node:stream";
import type { Storage } from "../storage/storage.ts";
import type { BundleManifest, ManifestVersion } from "./manifest.ts";

/** One file an extension carries; its entry is `goark-ext/<extension>/<path>`. */
export interface ExtensionFile {
  /** A relative path with store-key rules (lowercase-safe elements, no dot-names). */
  path: string;
  size: number;
  /** Lowercase hex SHA-256 of the bytes; when absent the exporter reads the file once more to compute it. */
  sha256?: string;
  /** Must yield exactly `size` bytes each time it is called. */
  open(): Promise<Readable>;
}

export interface ExtensionExport {
  /** JSON stored under manifest.extensions[name]; keep it small (the manifest is read whole). */
  section: unknown;
  files: ExtensionFile[];
}

/** An extension file received from a bundle, already checked against the manifest's size and sha256. */
export interface ReceivedExtensionFile {
  path: string;
  size: number;
  sha256: string;
  /** A temporary local copy, valid until the import ends. */
  localPath: string;
}

/** A verdict on one carried version: undefined accepts it, a string rejects it with that reason. */
export type VersionVerdict = string | undefined;

export interface ImportCheckContext {
  storage: Storage;
  manifest: BundleManifest;
  /** The extension's manifest section (undefined when the bundle has none). */
  section: unknown;
  files: ReceivedExtensionFile[];
  /** The versions whose files passed the local checks (sha256, zip structure, h1 = manifest). */
  versions: ManifestVersion[];
}

export interface ImportCommitContext extends ImportCheckContext {
  /** Versions that are in the store now (added by this import or already present). */
  landed: ManifestVersion[];
}

export interface BundleExtension {
  /** Manifest section key and entry-name element: lowercase letters, digits and -. */
  readonly name: string;
  /** Export: the section and files to carry for the selected versions. */
  export?(storage: Storage, versions: ManifestVersion[]): Promise<ExtensionExport>;
  /**
   * Import, before any commit: judge each version (keyed "module@version") (e.g. its h1 against the
   * carried checksum-database records). Throwing rejects the whole bundle.
   * Called even when the bundle has no section for this extension (`section`
   * undefined), so a policy such as "require checksum material" can refuse.
   */
  checkImport?(ctx: ImportCheckContext): Promise<Map<string, VersionVerdict> | undefined>;
  /** Import, after the versions landed: e.g. append them to goark's own log. */
  afterImport?(ctx: ImportCommitContext): Promise<void>;
}
