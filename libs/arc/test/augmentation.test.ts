import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyD8,
  applyGrid,
  augmentPairs,
  checkAugmentationSpec,
  createRng,
  D8_INDICES,
  decodeAugmentations,
  decodeCompletion,
  encodeReply,
  fnv1a32,
  gridKey,
  gridShape,
  groupByGridShape,
  identitySpec,
  inverseD8,
  invertGrid,
  loadDataset,
  scoreAugmentations,
  swapsAxes,
  ttftAugmentations,
  validateTaskMap,
  type AugmentationSpec,
  type Grid,
  type Rng,
} from "../src/index.ts";
import { datasetsDir } from "./fixtures.ts";

function randomGrid(rng: Rng, rows: number, columns: number): Grid {
  return Array.from({ length: rows }, () => Array.from({ length: columns }, () => rng.nextInt(10)));
}

/** A 2x3 grid with no symmetry, so each D8 element gives a different result. */
const asymmetric = [
  [1, 2, 3],
  [4, 5, 6],
];

describe("D8 elements", () => {
  it("map a 2x3 grid as documented", () => {
    const expected: Record<number, Grid> = {
      0: [[1, 2, 3], [4, 5, 6]],
      1: [[3, 6], [2, 5], [1, 4]],
      2: [[6, 5, 4], [3, 2, 1]],
      3: [[4, 1], [5, 2], [6, 3]],
      4: [[3, 2, 1], [6, 5, 4]],
      5: [[4, 5, 6], [1, 2, 3]],
      6: [[1, 4], [2, 5], [3, 6]],
      7: [[6, 3], [5, 2], [4, 1]],
    };
    for (const index of D8_INDICES) {
      assert.deepEqual(applyD8(index, asymmetric), expected[index], `element ${index}`);
    }
  });

  it("are 8 distinct maps on a non-symmetric grid", () => {
    const keys = new Set(D8_INDICES.map((index) => gridKey(applyD8(index, asymmetric))));
    assert.equal(keys.size, 8);
  });

  it("compose rot90 into rot180 and identity", () => {
    const twice = applyD8(1, applyD8(1, asymmetric));
    assert.deepEqual(twice, applyD8(2, asymmetric));
    assert.deepEqual(applyD8(1, applyD8(1, twice)), asymmetric);
  });

  it("are undone by their inverse", () => {
    for (const index of D8_INDICES) {
      assert.deepEqual(applyD8(inverseD8(index), applyD8(index, asymmetric)), asymmetric, `element ${index}`);
    }
  });
});

describe("augmentation specs", () => {
  const rng = createRng("augmentation-round-trip");
  const shapes: [number, number][] = [[1, 1], [1, 17], [23, 1], [30, 30], [5, 9]];

  it("invert exactly on edge-sized grids", () => {
    const specs = ttftAugmentations("round-trip", 3);
    for (const [rows, columns] of shapes) {
      const grid = randomGrid(rng, rows, columns);
      for (const spec of specs) {
        assert.deepEqual(invertGrid(spec, applyGrid(spec, grid)), grid);
      }
    }
  });

  it("permute colors as bijections, 0 included", () => {
    const allColors = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]];
    const specs = ttftAugmentations("bijection", 2);
    for (const spec of specs) {
      assert.deepEqual([...spec.colors].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const recolored = applyGrid(spec, allColors).flat();
      assert.equal(new Set(recolored).size, 10);
    }
    assert.ok(specs.some((spec) => spec.colors[0] !== 0), "background 0 is permuted too");
  });

  it("reorder and transform pairs", () => {
    const pairs = [
      { input: [[1]], output: [[2]] },
      { input: [[3, 4]], output: [[5], [6]] },
    ];
    const spec: AugmentationSpec = { d8: 6, colors: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], pairOrder: [1, 0] };
    assert.deepEqual(augmentPairs(spec, pairs), [
      { input: [[6], [5]], output: [[4, 3]] },
      { input: [[8]], output: [[7]] },
    ]);
  });

  it("reject malformed specs", () => {
    const good = identitySpec(2);
    assert.doesNotThrow(() => checkAugmentationSpec(good, 2));
    assert.throws(() => checkAugmentationSpec({ ...good, d8: 8 as never }), /d8 must be an integer 0..7/);
    assert.throws(() => checkAugmentationSpec({ ...good, colors: [0, 0, 2, 3, 4, 5, 6, 7, 8, 9] }), /permutation of 0..9/);
    assert.throws(() => checkAugmentationSpec({ ...good, pairOrder: [0] }, 2), /pairOrder must be a permutation of 0..1/);
  });

  it("map decoded answers back to original frame", async () => {
    const dataset = await loadDataset(datasetsDir, "arc-agi-1/evaluation", { limit: 5 });
    const { tasks } = validateTaskMap(dataset.tasks);
    for (const [taskId, task] of Object.entries(tasks)) {
      const truth = task.test[0].output as Grid;
      for (const spec of decodeAugmentations(`${taskId}_0`, task.train.length)) {
        const reply = encodeReply(applyGrid(spec, truth));
        const parsed = decodeCompletion(reply, "eos");
        assert.equal(parsed.ok, true);
        assert.deepEqual(parsed.ok && invertGrid(spec, parsed.grid), truth, `${taskId} under d8 ${spec.d8}`);
      }
    }
  });
});

describe("augmentation plans", () => {
  it("give 8 D8 elements times k colors", () => {
    const ttft = ttftAugmentations("task-a", 4);
    assert.equal(ttft.length, 128);
    assert.equal(decodeAugmentations("task-a_0", 4).length, 16);
    assert.equal(ttftAugmentations("task-a", 4, { colorPermutationsPerD8: 3 }).length, 24);
    for (const index of D8_INDICES) {
      assert.equal(ttft.filter((spec) => spec.d8 === index).length, 16);
    }
    ttft.forEach((spec) => checkAugmentationSpec(spec, 4));
  });

  it("draw colors and order per spec", () => {
    const ttft = ttftAugmentations("task-b", 5);
    assert.ok(new Set(ttft.map((spec) => spec.colors.join())).size > 100);
    assert.ok(new Set(ttft.map((spec) => spec.pairOrder.join())).size > 30);
  });

  it("score each D8 element once", () => {
    const specs = scoreAugmentations("task-c_1", 3);
    assert.deepEqual(specs.map((spec) => spec.d8), [...D8_INDICES]);
  });

  it("replay from the seed name", () => {
    assert.deepEqual(ttftAugmentations("task-d", 3), ttftAugmentations("task-d", 3));
    assert.deepEqual(scoreAugmentations("task-d_0", 3), scoreAugmentations("task-d_0", 3));
    assert.notDeepEqual(ttftAugmentations("task-d", 3), ttftAugmentations("task-e", 3));
    assert.notDeepEqual(
      decodeAugmentations("task-d", 3, { colorPermutationsPerD8: 1 }),
      scoreAugmentations("task-d", 3),
    );
  });

  it("group specs by grid shape", () => {
    const specs = decodeAugmentations("task-f_0", 2);
    const groups = groupByGridShape(specs);
    assert.equal(groups.length, 2);
    assert.equal(groups[0].length + groups[1].length, specs.length);
    const shapeKeys = groups.map((group) => {
      const keys = new Set(group.map((spec) => JSON.stringify(gridShape(applyGrid(spec, asymmetric)))));
      assert.equal(keys.size, 1, "one shape per group");
      return [...keys][0];
    });
    assert.notEqual(shapeKeys[0], shapeKeys[1]);
    assert.deepEqual(groups[1].map((spec) => swapsAxes(spec.d8)), new Array(groups[1].length).fill(true));
  });
});

describe("seeded random numbers", () => {
  it("hash with 32-bit FNV-1a", () => {
    assert.equal(fnv1a32(""), 0x811c9dc5);
    assert.equal(fnv1a32("a"), 0xe40c292c);
    assert.equal(fnv1a32("foobar"), 0xbf9cf968);
  });

  it("repeat the stream per name", () => {
    const a = createRng("name");
    const b = createRng("name");
    const c = createRng("other");
    const streamA = Array.from({ length: 20 }, () => a.nextUint32());
    assert.deepEqual(streamA, Array.from({ length: 20 }, () => b.nextUint32()));
    assert.notDeepEqual(streamA, Array.from({ length: 20 }, () => c.nextUint32()));
  });

  it("draw integers across the range", () => {
    const rng = createRng("range");
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const value = rng.nextInt(10);
      assert.ok(Number.isInteger(value));
      assert.ok(value >= 0);
      assert.ok(value < 10);
      seen.add(value);
    }
    assert.equal(seen.size, 10);
    assert.throws(() => rng.nextInt(0), RangeError);
  });
});
