import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRng, packSequences, SampleTooLongError, type PackableSample } from "../src/index.ts";
import { thrownBy } from "./fixtures.ts";

function randomSamples(count: number, maxTokens: number, seedName: string): PackableSample[] {
  const rng = createRng(seedName);
  return Array.from({ length: count }, (_, i) => ({ name: `sample-${i}`, tokenCount: 1 + rng.nextInt(maxTokens) }));
}

describe("sequence packing", () => {
  it("keeps every sequence within packMaxTokens", () => {
    const samples = randomSamples(2000, 8192, "bounds");
    for (const sequence of packSequences(samples, 16384)) {
      assert.ok(sequence.tokenCount <= 16384);
      assert.equal(sequence.segmentLengths.reduce((sum, length) => sum + length, 0), sequence.tokenCount);
      assert.deepEqual(sequence.segmentLengths, sequence.samples.map((sample) => sample.tokenCount));
    }
  });

  it("places every sample exactly once", () => {
    const samples = randomSamples(1500, 5000, "once");
    const placed = packSequences(samples, 9000).flatMap((sequence) => sequence.samples);
    assert.equal(placed.length, samples.length);
    assert.equal(new Set(placed).size, samples.length);
  });

  it("fills sequences first fit, longest first", () => {
    const sizes = [3, 7, 5, 5, 2, 8];
    const samples = sizes.map((tokenCount, i) => ({ name: `s${i}`, tokenCount }));
    const packed = packSequences(samples, 10);
    assert.deepEqual(packed.map((sequence) => sequence.segmentLengths), [[8, 2], [7, 3], [5, 5]]);
  });

  it("packs nearly as tight as the token total allows", () => {
    const samples = randomSamples(3000, 4000, "tight");
    const total = samples.reduce((sum, sample) => sum + sample.tokenCount, 0);
    const packed = packSequences(samples, 16384);
    assert.ok(packed.length <= Math.ceil(total / 16384) * 1.05 + 1, `${packed.length} sequences for ${total} tokens`);
  });

  it("gives the same packing for the same input", () => {
    const samples = randomSamples(500, 3000, "same");
    const names = (packing: ReturnType<typeof packSequences>) => packing.map((s) => s.samples.map((x) => x.name));
    assert.deepEqual(names(packSequences(samples, 8192)), names(packSequences(samples, 8192)));
  });

  it("rejects a sample longer than packMaxTokens by name", () => {
    const error = thrownBy(() => packSequences([{ name: "ok", tokenCount: 10 }, { name: "task-x#3", tokenCount: 101 }], 100));
    assert.ok(error instanceof SampleTooLongError);
    assert.equal(error.sampleName, "task-x#3");
    assert.match(error.message, /task-x#3/);
  });

  it("returns no sequences for no samples", () => {
    assert.deepEqual(packSequences([], 100), []);
  });
});
