// TypeScript shapes of the sidecar messages as @grpc/proto-loader delivers them with
// the options of loadSidecarPackageDefinition (camelCase, numbers, enum names).
// They mirror proto/nvarc/sidecar/v1/sidecar.proto; change both together.

export interface TokenEntry { text: string; id: number }

export interface LoadModelRequest { modelPath: string; dtype?: string }

export interface LoadModelReply {
  modelPath: string;
  tokens: TokenEntry[];
  maxSeqLen: number;
  parameterCount: number;
  architecture: string;
  device: string;
  dtype: string;
  deviceSeconds: number;
}

export interface TrainingSequence { tokenIds: number[]; lossMask: number[] }

export interface LoraPreset {
  rank: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  targetModules: string[];
  learningRate: number;
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  epochs: number;
  seed: number;
  torchThreads: number;
}

export interface TestTimeFineTuneRequest {
  requestId: string;
  sequences: TrainingSequence[];
  preset: LoraPreset;
  progressEverySteps: number;
}

export interface TestTimeFineTuneUpdate {
  step: number;
  totalSteps: number;
  loss: number;
  done: boolean;
  adapterId: string;
  deviceSeconds: number;
  trainableParameters: number;
}

export interface DecodeRequest {
  requestId: string;
  adapterId: string;
  prompts: { tokenIds: number[] }[];
  allowedTokenIds: number[];
  eosTokenId: number;
  minProbability: number;
  maxNewTokens: number;
  batchSize: number;
  returnTokenLogprobs: boolean;
  maxSecondsPerPrompt: number;
}

export type StopReason = "STOP_REASON_UNSPECIFIED" | "STOP_REASON_EOS" | "STOP_REASON_MAX_TOKENS" | "STOP_REASON_TIME_LIMIT";

export interface Completion {
  tokenIds: number[];
  nll: number;
  stopReason: StopReason;
  greedy: boolean;
  tokenLogprobs: number[];
}

export interface DecodeResult {
  promptIndex: number;
  completions: Completion[];
  forwardSteps: number;
  deviceSeconds: number;
}

export interface ScoreRequest {
  requestId: string;
  adapterId: string;
  items: { promptTokenIds: number[]; completionTokenIds: number[] }[];
  batchSize: number;
}

export interface ScoreReply { nll: number[]; deviceSeconds: number }

export interface ReleaseAdapterReply { released: boolean; deviceSeconds: number }

export interface TrainHyperparameters {
  learningRate: number;
  warmupSteps: number;
  minLearningRate: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  maxGradNorm: number;
  microBatchSequences: number;
  gradientAccumulationSteps: number;
  maxSteps: number;
  epochs: number;
  seed: number;
  checkpointEverySteps: number;
  keepCheckpoints: number;
  dtype: string;
  torchThreads: number;
}

export interface TrainRequest {
  requestId: string;
  runId: string;
  baseModelPath: string;
  datasetPath: string;
  outputDir: string;
  hyperparameters: TrainHyperparameters;
  resume: boolean;
  progressEverySteps: number;
}

export interface TrainUpdate {
  step: number;
  totalSteps: number;
  loss: number;
  learningRate: number;
  tokensSeen: number;
  deviceSeconds: number;
  checkpointPath: string;
  done: boolean;
  finalModelPath: string;
  resumedFromStep: number;
}
