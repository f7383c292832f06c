/**
 * A least-recently-used map of buffers bounded by their total byte size: the
 * disk store's memory for hot small artefacts. A Map keeps insertion order, so
 * re-inserting on a hit makes the first key the least recently used.
 */
export class ByteLru {
  readonly maxBytes: number;
  #map = new Map<string, Buffer>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): Buffer | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: string, value: Buffer): void {
    this.delete(key);
    if (value.length > this.maxBytes) return;
    this.#map.set(key, value);
    this.#bytes += value.length;
    while (this.#bytes > this.maxBytes) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: string): void {
    const value = this.#map.get(key);
    if (value === undefined) return;
    this.#map.delete(key);
    this.#bytes -= value.length;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
