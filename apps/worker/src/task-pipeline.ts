import {
  ALLOWED_DECODE_TOKEN_IDS, EOS_TOKEN_ID,
  buildDecodePrompt, buildScoreItems, buildTtftSequences, decodeAugmentations, poolCandidates,
  rankCandidates, scoreAugmentations, selectAttempts, ttftAugmentations,
  type ArcTask, type AugmentationSpec, type Candidate, type Grid, type InvalidDecodeGroup, type RankedCandidate,
} from "@nvarc/arc";
import type { DecodeResult, EvalPreset, StopReason } from "@nvarc/contracts";
import type { Logger } from "@nvarc/telemetry";
import type { SidecarClient } from "./sidecar-client.ts";

/** Everything the pipeline needs to run one task on the sidecar. */
export interface TaskPipelineInput {
  /** Id used in sidecar logs, e.g. "<batchId>_<taskId>#<run>". */
  requestId: string;
  taskId: string;
  /** Demonstration pairs and test inputs only: test outputs never reach the sidecar. */
  task: ArcTask;
  preset: EvalPreset;
  sidecar: SidecarClient;
  /** Absolute time (ms since epoch) by which the whole task must be done. */
  deadlineAtMs: number;
  signal: AbortSignal;
  /** The gRPC message limit in bytes; Score requests are split to stay under it. */
  maxMessageBytes: number;
  onProgress?: (progress: PipelineProgress) => void;
  logger: Pick<Logger, "warn">;
}

export interface PipelineProgress {
  stage: "ttft" | "decode" | "score";
  step?: number;
  totalSteps?: number;
  loss?: number;
}

/** Result of one test input: ranked valid candidates, invalid ones and the two attempts. */
export interface TestInputResult {
  testIndex: number;
  attempts: Grid[];
  ranked: RankedCandidate[];
  invalid: InvalidDecodeGroup[];
  /** Pairs kept in each decode prompt (whole pairs are dropped to fit the context). */
  decodePairsUsed: number[];
}

export interface TaskPipelineResult {
  tests: TestInputResult[];
  ttftSeconds: number;
  decodeSeconds: number;
  scoreSeconds: number;
  /** Pairs kept in each TTFT sequence. */
  ttftPairsUsed: number[];
  ttftLoss: number | null;
  adapterId: string;
}

/** Seconds of device time used so far, readable after a failure too. */
export interface DeviceClock {
  ttftSeconds: number;
  decodeSeconds: number;
  scoreSeconds: number;
}

/**
 * Runs the per-task recipe: TTFT on the demonstration pairs, DFS decoding of every
 * test input under the decode augmentations, then re-scoring of each distinct
 * candidate under the fixed scoring augmentations and selection of two attempts.
 * `clock` accumulates device seconds as calls finish, so a failed run can still be billed.
 */
export async function runTaskPipeline(input: TaskPipelineInput, clock: DeviceClock): Promise<TaskPipelineResult> {
  const { task } = input;
  const ttft = await trainAdapter(input, clock);

  try {
    const tests: TestInputResult[] = [];
    for (let testIndex = 0; testIndex < task.test.length; testIndex++) {
      const decoded = await decodeTestInput(input, ttft.adapterId, testIndex, clock);
      const ranked = await scoreCandidates(input, ttft.adapterId, testIndex, decoded.valid, clock);
      tests.push({ testIndex, attempts: selectAttempts(ranked), ranked, invalid: decoded.invalid, decodePairsUsed: decoded.pairsUsed });
    }

    return { tests, ...clock, ttftPairsUsed: ttft.pairsUsed, ttftLoss: ttft.loss, adapterId: ttft.adapterId };
  } finally {
    await releaseQuietly(input, ttft.adapterId);
  }
}

function remainingMs(input: TaskPipelineInput): number {
  return Math.max(1, input.deadlineAtMs - Date.now());
}

/** The adapter id that makes the sidecar decode and score with the model alone. */
const NO_ADAPTER = "";

async function trainAdapter(input: TaskPipelineInput, clock: DeviceClock) {
  const { preset, task, taskId } = input;
  if (preset.ttft.epochs === 0) return { adapterId: NO_ADAPTER, pairsUsed: [], loss: null };

  const specs = ttftAugmentations(`ttft:${taskId}`, task.train.length, { colorPermutationsPerD8: preset.ttft.colorPermutationsPerD8 });
  const sequences = buildTtftSequences(task.train, specs, preset.maxSeqLen);

  const { colorPermutationsPerD8: _unused, ...lora } = preset.ttft;
  void _unused;
  let lastLoss: number | null = null;
  const final = await input.sidecar.testTimeFineTune(
    {
      requestId: input.requestId,
      sequences: sequences.map((sequence) => ({ tokenIds: sequence.tokenIds, lossMask: sequence.lossMask })),
      preset: { ...lora, torchThreads: 0 },
      progressEverySteps: 4,
    },
    { timeoutMs: remainingMs(input), signal: input.signal },
    (update) => {
      clock.ttftSeconds = update.deviceSeconds;
      if (!update.done) lastLoss = update.loss;
      input.onProgress?.({ stage: "ttft", step: update.step, totalSteps: update.totalSteps, loss: update.loss });
    },
  );

  clock.ttftSeconds = final.deviceSeconds;
  return { adapterId: final.adapterId, pairsUsed: sequences.map((sequence) => sequence.pairsUsed), loss: lastLoss };
}

async function decodeTestInput(input: TaskPipelineInput, adapterId: string, testIndex: number, clock: DeviceClock) {
  const { preset, task, taskId } = input;
  const specs = decodeAugmentations(`decode:${taskId}:${testIndex}`, task.train.length, {
    colorPermutationsPerD8: preset.decode.colorPermutationsPerD8,
  }).filter((spec) => preset.decode.d8.includes(spec.d8));
  const maxPromptLen = preset.maxSeqLen - preset.decode.maxNewTokens;
  const prompts = specs.map((spec) => buildDecodePrompt(task.train, task.test[testIndex].input, spec, maxPromptLen));

  input.onProgress?.({ stage: "decode", step: testIndex, totalSteps: task.test.length });
  const results = await input.sidecar.decode(
    {
      requestId: `${input.requestId}/decode/${testIndex}`,
      adapterId,
      prompts: prompts.map((prompt) => ({ tokenIds: prompt.tokenIds })),
      allowedTokenIds: [...ALLOWED_DECODE_TOKEN_IDS],
      eosTokenId: EOS_TOKEN_ID,
      minProbability: preset.decode.minProbability,
      maxNewTokens: preset.decode.maxNewTokens,
      batchSize: preset.decode.batchSize,
      returnTokenLogprobs: false,
      maxSecondsPerPrompt: preset.decode.maxSecondsPerPrompt,
    },
    { timeoutMs: remainingMs(input), signal: input.signal },
  );

  clock.decodeSeconds += maxDeviceSeconds(results);
  const pooled = poolCandidates(toDecodes(results, specs));
  return { valid: pooled.candidates, invalid: pooled.invalid, pairsUsed: prompts.map((prompt) => prompt.pairsUsed) };
}

/** Returns a call's device seconds: the sidecar reports them cumulatively, so the largest value is the total. */
function maxDeviceSeconds(results: DecodeResult[]): number {
  return results.reduce((max, result) => Math.max(max, result.deviceSeconds), 0);
}

function toDecodes(results: DecodeResult[], specs: AugmentationSpec[]) {
  return results.flatMap((result) =>
    result.completions.map((completion) => ({
      augmentation: specs[result.promptIndex],
      tokenIds: completion.tokenIds,
      stopReason: toStopReason(completion.stopReason),
      nll: completion.nll,
      greedy: completion.greedy,
    })),
  );
}

function toStopReason(reason: StopReason): "eos" | "max_tokens" | "time_limit" {
  if (reason === "STOP_REASON_EOS") return "eos";
  if (reason === "STOP_REASON_TIME_LIMIT") return "time_limit";
  return "max_tokens";
}

async function scoreCandidates(input: TaskPipelineInput, adapterId: string, testIndex: number, candidates: Candidate[], clock: DeviceClock) {
  if (candidates.length === 0) return [];

  const { preset, task, taskId } = input;
  const specs = scoreAugmentations(`${taskId}_${testIndex}`, task.train.length).slice(0, preset.score.augmentations);
  const maxPromptLen = preset.maxSeqLen - preset.decode.maxNewTokens;
  const itemsPerCandidate = candidates.map((candidate) =>
    buildScoreItems(task.train, task.test[testIndex].input, candidate.grid, specs, maxPromptLen),
  );

  input.onProgress?.({ stage: "score", step: testIndex, totalSteps: task.test.length });
  const nlls: number[] = [];
  for (const chunk of chunkScoreItems(itemsPerCandidate.flat(), input.maxMessageBytes)) {
    const reply = await input.sidecar.score(
      { requestId: `${input.requestId}/score/${testIndex}`, adapterId, items: chunk, batchSize: preset.score.batchSize },
      { timeoutMs: remainingMs(input), signal: input.signal },
    );
    clock.scoreSeconds += reply.deviceSeconds;
    nlls.push(...reply.nll);
  }

  const meanLogProbByKey = new Map<string, number>();
  let offset = 0;
  candidates.forEach((candidate, index) => {
    const count = itemsPerCandidate[index].length;
    const own = nlls.slice(offset, offset + count);
    offset += count;
    meanLogProbByKey.set(candidate.key, -own.reduce((sum, nll) => sum + nll, 0) / count);
  });
  return rankCandidates(candidates, meanLogProbByKey);
}

/**
 * Splits score items into requests that stay under half the gRPC message limit. Token
 * ids below 128 take one byte each in a packed repeated field; 16 bytes cover the
 * field headers of an item. A Score request therefore never grows with the number of
 * candidates; only a single item larger than the limit can still exceed it.
 */
function chunkScoreItems<T extends { promptTokenIds: number[]; completionTokenIds: number[] }>(items: T[], maxMessageBytes: number): T[][] {
  const budget = Math.floor(maxMessageBytes / 2);
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemBytes = item.promptTokenIds.length + item.completionTokenIds.length + 16;
    if (current.length > 0 && size + itemBytes > budget) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemBytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

async function releaseQuietly(input: TaskPipelineInput, adapterId: string): Promise<void> {
  if (adapterId === NO_ADAPTER) return;
  try {
    await input.sidecar.releaseAdapter(adapterId, { timeoutMs: 10_000 });
  } catch (error) {
    // The adapter dies with the sidecar anyway, so a failed release only wastes memory.
    input.logger.warn({ err: error, adapterId, requestId: input.requestId }, "releasing the adapter failed");
  }
}
