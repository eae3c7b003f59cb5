/**
 * Named settings of the per-task recipe: test-time fine-tuning (TTFT), DFS decoding
 * and re-scoring. `full` carries the published NVARC values; `cpu` and `test` shrink
 * the work so the tiny model runs on a CPU.
 */
export interface EvalPreset {
  name: PresetName;
  /** Context used by TTFT and inference, in tokens. */
  maxSeqLen: number;
  /** Compute dtype the sidecar loads the model in. */
  dtype: "float32" | "bfloat16";
  ttft: TtftSettings;
  decode: DecodeSettings;
  score: ScoreSettings;
  /** Device deadline of one task run, in seconds (TTFT, decode and score together). */
  taskDeadlineSeconds: number;
}

export interface TtftSettings {
  /** Color permutations per D8 element: TTFT trains on 8 x this many augmented copies. */
  colorPermutationsPerD8: number;
  rank: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  targetModules: string[];
  learningRate: number;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  /**
   * Passes over the augmented copies (one optimizer step per copy, batch 1). 0 skips
   * TTFT: decode and score then use the model without an adapter.
   */
  epochs: number;
  seed: number;
}

export interface DecodeSettings {
  /** D8 elements to decode under (0 identity ... 7 anti-transpose). */
  d8: number[];
  /** Color permutations per D8 element. */
  colorPermutationsPerD8: number;
  /** DFS keeps a prefix only while its probability stays above this value. */
  minProbability: number;
  /** Generated tokens per completion, end token included: a 30x30 grid needs 930. */
  maxNewTokens: number;
  /** Prompts of equal length decoded together. */
  batchSize: number;
  /** Per-prompt DFS time limit in seconds. */
  maxSecondsPerPrompt: number;
}

export interface ScoreSettings {
  /** Number of the fixed scoring augmentations, one per D8 element from 0 (at most 8). */
  augmentations: number;
  batchSize: number;
}

export const PRESET_NAMES = ["full", "cpu", "test"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

/** The published NVARC settings for Qwen3-4B on a GPU. */
const FULL: EvalPreset = {
  name: "full",
  maxSeqLen: 8192,
  dtype: "bfloat16",
  ttft: {
    colorPermutationsPerD8: 16, rank: 256, alpha: 32, dropout: 0, useRslora: true,
    targetModules: ALL_PROJECTIONS, learningRate: 5e-5, warmupRatio: 0.1, weightDecay: 0,
    maxGradNorm: 1, epochs: 1, seed: 42,
  },
  decode: {
    d8: [0, 1, 2, 3, 4, 5, 6, 7], colorPermutationsPerD8: 2, minProbability: 0.2,
    maxNewTokens: 931, batchSize: 4, maxSecondsPerPrompt: 540,
  },
  score: { augmentations: 8, batchSize: 4 },
  // 4 x L4 for 12 h over 240 tasks leaves 12 device minutes per task.
  taskDeadlineSeconds: 720,
};

/**
 * The tiny model on 2 CPU cores: about a minute per ARC-AGI-1 evaluation task
 * (bench/RESULTS.md has the measurement). Fewer copies, a smaller rank and a
 * higher learning rate make up for the handful of steps.
 */
const CPU: EvalPreset = {
  name: "cpu",
  maxSeqLen: 8192,
  dtype: "float32",
  ttft: {
    colorPermutationsPerD8: 2, rank: 8, alpha: 16, dropout: 0, useRslora: true,
    targetModules: [...ALL_PROJECTIONS, "lm_head"], learningRate: 1e-3, warmupRatio: 0.1, weightDecay: 0,
    maxGradNorm: 1, epochs: 3, seed: 42,
  },
  decode: {
    d8: [0, 1, 2, 3, 4, 5, 6, 7], colorPermutationsPerD8: 1, minProbability: 0.2,
    maxNewTokens: 931, batchSize: 4, maxSecondsPerPrompt: 60,
  },
  score: { augmentations: 8, batchSize: 4 },
  taskDeadlineSeconds: 600,
};

/** Smallest useful settings, for integration tests on a shared CPU sidecar. */
const TEST: EvalPreset = {
  name: "test",
  maxSeqLen: 8192,
  dtype: "float32",
  ttft: { ...CPU.ttft, colorPermutationsPerD8: 1, epochs: 1, targetModules: ALL_PROJECTIONS },
  decode: {
    d8: [0, 2], colorPermutationsPerD8: 1, minProbability: 0.2,
    maxNewTokens: 931, batchSize: 2, maxSecondsPerPrompt: 30,
  },
  score: { augmentations: 2, batchSize: 2 },
  taskDeadlineSeconds: 300,
};

export const PRESETS: Readonly<Record<PresetName, EvalPreset>> = Object.freeze({ full: FULL, cpu: CPU, test: TEST });

/** Returns true when `name` is a known preset name. */
export function isPresetName(name: unknown): name is PresetName {
  return typeof name === "string" && (PRESET_NAMES as readonly string[]).includes(name);
}

/** Returns a deep copy of a preset so callers can override fields safely. */
export function clonePreset(name: PresetName): EvalPreset {
  return structuredClone(PRESETS[name]);
}
