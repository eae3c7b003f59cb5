#!/usr/bin/env bash
# Trains the tiny default model (models/tiny-arc) from models/tiny-untrained with the
# project's own pipeline: `nvarc dataset build`, then a local SFT run through the API
# and worker of the embedded stack (or of DATABASE_URL and REDIS_URL when set).
#
# The dataset is the ARC-AGI-1 and ARC-AGI-2 training tasks with every ARC-AGI-1
# evaluation task excluded by content and by id, 8 augmented samples per task, seed 0.
# On 2 CPU cores the run takes about 40 minutes. The run's checkpoints go to
# data/sft-runs/<run id>/, so a killed run resumes when its job is retried.
#
# Usage: NVARC_DATASETS_DIR=/path/to/datasets bash scripts/train-tiny-model.sh
set -euo pipefail
cd "$(dirname "$0")/.."

: "${NVARC_DATASETS_DIR:?set NVARC_DATASETS_DIR to the folder holding arc-agi-1/ and arc-agi-2/ (see README.md)}"
DATASET_ID=arc-train-s8-l4096-seed0

bash scripts/setup.sh --quiet

node --import tsx apps/cli/src/main.ts dataset build \
  --source arc-agi-1/training --source arc-agi-2/training \
  --exclude-dataset arc-agi-1/evaluation \
  --samples-per-task 8 --max-seq-len 4096 --pack-max-tokens 8192 --seed 0 \
  --out data/sft --dataset-id "$DATASET_ID"

# One epoch with one packed 8,192-token sequence per optimizer step. The rate decays
# linearly to a tenth of its peak. Two threads match the 2 cores of the run.
node --import tsx apps/cli/src/main.ts sft run \
  --dataset-dir "data/sft/$DATASET_ID" \
  --base-model tiny-untrained \
  --hyperparameters '{"learningRate": 0.002, "minLearningRate": 0.0002, "warmupSteps": 20, "weightDecay": 0.01, "maxGradNorm": 1, "epochs": 1, "seed": 0, "checkpointEverySteps": 100, "keepCheckpoints": 2, "torchThreads": 2}' \
  --export models/tiny-arc
