/** A sample to pack: any value with a token length and a name for error messages. */
export interface PackableSample {
  /** Names the sample in errors, for example "arc-agi-1/training/007bbfb7#3". */
  name: string;
  /** Token count of the sample, an integer ≥ 1. */
  tokenCount: number;
}

/** One packed training sequence: samples laid end to end. */
export interface PackedSequence<T extends PackableSample> {
  samples: T[];
  /** Token count of each sample in `samples`, in order; they sum to tokenCount. */
  segmentLengths: number[];
  /** Total tokens, at most packMaxTokens. */
  tokenCount: number;
}

/** Thrown when one sample alone is longer than the packing limit. */
export class SampleTooLongError extends Error {
  constructor(
    readonly sampleName: string,
    readonly tokenCount: number,
    readonly packMaxTokens: number,
  ) {
    super(
      `sample ${sampleName} has ${tokenCount} tokens, more than packMaxTokens ${packMaxTokens}; ` +
        "raise packMaxTokens to at least maxSeqLen",
    );
    this.name = "SampleTooLongError";
  }
}

/**
 * Packs samples into sequences of at most packMaxTokens tokens by first fit
 * decreasing: samples sorted by token count, longest first (ties keep the
 * input order), each placed in the first sequence with room. Sequences come
 * back in the order they were opened, so the result depends only on the
 * input. Every sample appears exactly once. Throws SampleTooLongError for a
 * sample longer than packMaxTokens. Runs in O(n log n) with a max segment
 * tree over the remaining room of the at most n sequences.
 */
export function packSequences<T extends PackableSample>(samples: readonly T[], packMaxTokens: number): PackedSequence<T>[] {
  if (!Number.isInteger(packMaxTokens) || packMaxTokens < 1) {
    throw new RangeError(`packMaxTokens must be an integer ≥ 1, got ${packMaxTokens}`);
  }
  for (const sample of samples) {
    if (!Number.isInteger(sample.tokenCount) || sample.tokenCount < 1) {
      throw new RangeError(`sample ${sample.name} must have an integer tokenCount ≥ 1, got ${sample.tokenCount}`);
    }
    if (sample.tokenCount > packMaxTokens) {
      throw new SampleTooLongError(sample.name, sample.tokenCount, packMaxTokens);
    }
  }
  const order = samples.map((_, i) => i).sort((a, b) => samples[b].tokenCount - samples[a].tokenCount || a - b);
  const room = new RoomTree(samples.length, packMaxTokens);
  const sequences: PackedSequence<T>[] = [];
  for (const index of order) {
    const sample = samples[index];
    const bin = room.firstWithRoom(sample.tokenCount);
    if (bin === sequences.length) {
      sequences.push({ samples: [], segmentLengths: [], tokenCount: 0 });
    }
    const sequence = sequences[bin];
    sequence.samples.push(sample);
    sequence.segmentLengths.push(sample.tokenCount);
    sequence.tokenCount += sample.tokenCount;
    room.set(bin, packMaxTokens - sequence.tokenCount);
  }
  return sequences;
}

/**
 * Max segment tree over the remaining room of `size` bins. Unopened bins
 * have full room and sit right of every opened bin, so the leftmost bin with
 * room is the first-fit choice, opened or new.
 */
class RoomTree {
  private readonly leaves: number;
  private readonly max: number[];

  constructor(size: number, capacity: number) {
    this.leaves = 1;
    while (this.leaves < Math.max(size, 1)) {
      this.leaves *= 2;
    }
    this.max = new Array<number>(2 * this.leaves).fill(capacity);
  }

  /** Returns the leftmost bin with room ≥ need; the caller guarantees one exists. */
  firstWithRoom(need: number): number {
    let node = 1;
    while (node < this.leaves) {
      node = this.max[2 * node] >= need ? 2 * node : 2 * node + 1;
    }
    return node - this.leaves;
  }

  set(bin: number, value: number): void {
    let node = bin + this.leaves;
    this.max[node] = value;
    for (node >>= 1; node >= 1; node >>= 1) {
      this.max[node] = Math.max(this.max[2 * node], this.max[2 * node + 1]);
    }
  }
}
