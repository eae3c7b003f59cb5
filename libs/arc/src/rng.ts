/**
 * Deterministic pseudo-random numbers from a named seed, so every
 * augmentation can be replayed from its seed name alone.
 *
 * Algorithm: the seed name is encoded as UTF-8 and hashed four times with
 * 32-bit FNV-1a, each time after a different one-byte prefix (0x01..0x04).
 * The four hashes are the state words a, b, c, d of an sfc32 generator
 * (Chris Doty-Humphrey's Small Fast Counter). The first 12 outputs are
 * discarded to mix the state. Any implementation of these steps yields the
 * same stream.
 */
export interface Rng {
  /** Returns the next unsigned 32-bit integer. */
  nextUint32(): number;
  /** Returns an integer uniform in 0..maxExclusive-1 (bias below maxExclusive / 2^32). */
  nextInt(maxExclusive: number): number;
  /** Returns a uniformly shuffled copy of `items` (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** Returns a uniformly random permutation of 0..size-1. */
  permutation(size: number): number[];
}

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const WARM_UP_OUTPUTS = 12;

/** Returns the 32-bit FNV-1a hash of `prefix` followed by the UTF-8 bytes of `text`. */
export function fnv1a32(text: string, prefix?: number): number {
  let hash = FNV_OFFSET_BASIS;
  const bytes = new TextEncoder().encode(text);
  if (prefix !== undefined) {
    hash = Math.imul(hash ^ (prefix & 0xff), FNV_PRIME);
  }
  for (const byte of bytes) {
    hash = Math.imul(hash ^ byte, FNV_PRIME);
  }
  return hash >>> 0;
}

/** Creates a generator seeded from a name; the same name always gives the same sequence. */
export function createRng(seedName: string): Rng {
  let a = fnv1a32(seedName, 1);
  let b = fnv1a32(seedName, 2);
  let c = fnv1a32(seedName, 3);
  let d = fnv1a32(seedName, 4);

  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < WARM_UP_OUTPUTS; i++) {
    nextUint32();
  }

  const nextInt = (maxExclusive: number): number => {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 2 ** 32) {
      throw new RangeError(`maxExclusive must be an integer in 1..2^32, got ${maxExclusive}`);
    }
    // Multiply-shift maps 32 random bits onto the range without a rejection loop.
    return Math.floor((nextUint32() * maxExclusive) / 2 ** 32);
  };

  const shuffle = <T>(items: readonly T[]): T[] => {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = nextInt(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };

  const permutation = (size: number): number[] => shuffle(Array.from({ length: size }, (_, i) => i));

  return { nextUint32, nextInt, shuffle, permutation };
}
