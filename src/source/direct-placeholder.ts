/**
 * `direct` until git fetching lands: every lookup fails with one clear,
 * typed error instead of a crash, so the chain reports it as Go reports a
 * direct error (it ranks first).
 */
import { UnsupportedError } from "../errors.ts";
import type { FetchOptions, Info, ListEntry, Source, ZipBody } from "./source.ts";

export const DIRECT_NOT_AVAILABLE =
  "direct fetching from version control is not available yet in this goark; use an upstream proxy";

export class DirectPlaceholderSource implements Source {
  readonly name = "direct";

  list(module: string, _opts?: FetchOptions): Promise<ListEntry[]> {
    return Promise.reject(unsupported(module));
  }

  latest(module: string, _opts?: FetchOptions): Promise<Info> {
    return Promise.reject(unsupported(module));
  }

  info(module: string, query: string, _opts?: FetchOptions): Promise<Info> {
    return Promise.reject(unsupported(module, query));
  }

  mod(module: string, version: string, _opts?: FetchOptions): Promise<Buffer> {
    return Promise.reject(unsupported(module, version));
  }

  zip(module: string, version: string, _opts?: FetchOptions): Promise<ZipBody> {
    return Promise.reject(unsupported(module, version));
  }
}

function unsupported(module: string, version?: string): UnsupportedError {
  const what = version === undefined ? module : `${module}@${version}`;
  return new UnsupportedError(`${what}: ${DIRECT_NOT_AVAILABLE}`, {
    module,
    ...(version === undefined ? {} : { version }),
  });
}
