/**
 * Positional reads that go on after short reads (callback API: no FileHandle,
 * one trip to the thread pool per call). Both resolve with the bytes read,
 * fewer only where the file ends.
 */
import { read, readv } from "node:fs";

/** Fills dst from position. */
export function readAt(fd: number, dst: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let at = 0;
    const step = (): void => {
      read(fd, dst, at, dst.length - at, position + at, (err, n) => {
        if (err) return reject(err);
        at += n;
        if (n === 0 || at === dst.length) return resolve(at);
        step();
      });
    };
    step();
  });
}

/** Fills bufs in order from position, in as few calls as the file system allows. */
export function readvAt(fd: number, bufs: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let total = 0;
    const step = (list: Buffer[]): void => {
      readv(fd, list, position + total, (err, n) => {
        if (err) return reject(err);
        total += n;
        let left = n;
        let i = 0;
        while (i < list.length && left >= list[i]!.length) left -= list[i++]!.length;
        if (n === 0 || i === list.length) return resolve(total);
        step([list[i]!.subarray(left), ...list.slice(i + 1)]);
      });
    };
    step(bufs);
  });
}
