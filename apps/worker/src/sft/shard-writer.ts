import { createHash, type Hash } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { createGzip, type Gzip } from "node:zlib";

/** One written shard as listed in the manifest. */
export interface ShardEntry {
  /** File name inside the dataset folder, for example "shard-00000.jsonl.gz". */
  file: string;
  sequences: number;
  /** sha256 hex of the compressed file bytes, so `sha256sum` checks it. */
  sha256: string;
}

/** One packed training sequence as stored, one per JSON line. */
export interface ShardLine {
  token_ids: number[];
  loss_mask: number[];
  segment_lengths: number[];
}

/** Returns the shard file name of index i: "shard-00000.jsonl.gz" for 0. */
export function shardFileName(index: number): string {
  return `shard-${String(index).padStart(5, "0")}.jsonl.gz`;
}

/**
 * Writes gzip-compressed JSON Lines into shards of at most
 * `sequencesPerShard` lines each in `dir`, hashing the compressed bytes as
 * they are written, so only the line being written is held in memory.
 */
export class ShardWriter {
  private readonly shards: ShardEntry[] = [];
  private current: { gzip: Gzip; file: WriteStream; hash: Hash; entry: ShardEntry } | null = null;

  constructor(
    private readonly dir: string,
    private readonly sequencesPerShard: number,
  ) {
    if (!Number.isInteger(sequencesPerShard) || sequencesPerShard < 1) {
      throw new RangeError(`sequencesPerShard must be an integer ≥ 1, got ${sequencesPerShard}`);
    }
  }

  /** Appends one sequence, opening the next shard when the current one is full. */
  async write(line: ShardLine): Promise<void> {
    if (this.current === null || this.current.entry.sequences >= this.sequencesPerShard) {
      await this.closeCurrent();
      this.openNext();
    }
    const current = this.current!;
    current.entry.sequences++;
    if (!current.gzip.write(`${JSON.stringify(line)}\n`)) {
      await once(current.gzip, "drain");
    }
  }

  /** Closes the last shard and returns every shard in order. */
  async finish(): Promise<ShardEntry[]> {
    await this.closeCurrent();
    return this.shards;
  }

  private openNext(): void {
    const entry: ShardEntry = { file: shardFileName(this.shards.length), sequences: 0, sha256: "" };
    const gzip = createGzip();
    const file = createWriteStream(join(this.dir, entry.file));
    const hash = createHash("sha256");
    gzip.on("data", (chunk: Buffer) => hash.update(chunk));
    gzip.pipe(file);
    this.current = { gzip, file, hash, entry };
  }

  private async closeCurrent(): Promise<void> {
    if (this.current === null) {
      return;
    }
    const { gzip, file, hash, entry } = this.current;
    this.current = null;
    const closed = once(file, "close");
    gzip.end();
    await closed;
    entry.sha256 = hash.digest("hex");
    this.shards.push(entry);
  }
}
