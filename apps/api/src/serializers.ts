/** JSON shapes of batches and tasks as the REST API returns them. */

const UNTRAINED_NOTE = "The model is untrained: it has not been through supervised fine-tuning, so scores near zero are expected.";

/** Builds the GET /v1/batches/:id body; `model` is the batch's registry row, null when it is gone. */
export function serializeBatch(batch: any, model: { trained: boolean } | null, progress: Record<string, number>, costs: any) {
  const trained = model?.trained ?? false;
  return {
    id: batch.id,
    state: batch.state,
    modelId: batch.modelId,
    modelTrained: trained,
    note: trained ? undefined : UNTRAINED_NOTE,
    dataset: batch.dataset,
    preset: batch.options?.preset,
    options: batch.options,
    taskCount: batch.taskCount,
    progress,
    score: batch.score,
    taskScore: batch.taskScore,
    scoredTasks: batch.scoredTasks,
    unscoredTasks: batch.unscoredTasks,
    scoredTestInputs: batch.scoredTestInputs,
    solvedTestInputs: batch.solvedTestInputs,
    cost: {
      usd: costs.usd,
      deviceSeconds: costs.deviceSeconds,
      wastedUsd: costs.wastedUsd,
      wastedRuns: costs.wastedRuns,
      usdPerTask: batch.taskCount > 0 ? costs.usd / batch.taskCount : 0,
    },
    createdAt: iso(batch.createdAt),
    startedAt: iso(batch.startedAt),
    finishedAt: iso(batch.finishedAt),
  };
}

export function serializeTask(task: any) {
  const runs = (task.runs ?? []).map((run: any) => ({
    runNumber: run.runNumber,
    state: run.state,
    workerId: run.workerId,
    ttftSeconds: run.ttftSeconds,
    decodeSeconds: run.decodeSeconds,
    scoreSeconds: run.scoreSeconds,
    deviceSeconds: run.deviceSeconds,
    wallSeconds: run.wallSeconds,
    errorCode: run.errorCode,
    errorMessage: run.errorMessage,
    costUsd: (run.costs ?? []).reduce((sum: number, cost: any) => sum + cost.usd, 0),
    wasted: (run.costs ?? []).some((cost: any) => cost.wasted),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
  }));
  const resultRun = runs.find((run: any) => run.runNumber === task.resultRun);

  return {
    taskId: task.taskId,
    position: task.position,
    state: task.state,
    testCount: task.testCount,
    hasGroundTruth: task.hasGroundTruth,
    correct: task.correct,
    solvedFraction: task.solvedFraction,
    solved: task.solvedFraction === null || task.solvedFraction === undefined ? null : task.solvedFraction === 1,
    failureCode: task.failureCode,
    failureMessage: task.failureMessage,
    currentRun: task.currentRun,
    resultRun: task.resultRun,
    timings: resultRun ? { ttftSeconds: resultRun.ttftSeconds, decodeSeconds: resultRun.decodeSeconds, scoreSeconds: resultRun.scoreSeconds, deviceSeconds: resultRun.deviceSeconds, wallSeconds: resultRun.wallSeconds } : null,
    costUsd: runs.reduce((sum: number, run: any) => sum + run.costUsd, 0),
    details: task.details,
    attempts: groupAttempts(task.attempts ?? [], task.testCount),
    candidates: (task.candidates ?? []).map((candidate: any) => ({
      testIndex: candidate.testIndex,
      valid: candidate.valid,
      grid: candidate.grid,
      invalidReason: candidate.invalidReason,
      count: candidate.count,
      greedy: candidate.greedy,
      meanLogProb: candidate.meanLogProb,
      rankScore: candidate.rankScore,
      rank: candidate.rank,
      correct: candidate.correct,
    })),
    runs,
  };
}

function groupAttempts(attempts: any[], testCount: number) {
  const byTest = Array.from({ length: testCount }, (_, testIndex) => ({ testIndex, attempt_1: null as unknown, attempt_2: null as unknown, correct: [] as (boolean | null)[] }));
  for (const attempt of attempts) {
    const entry = byTest[attempt.testIndex];
    if (!entry) continue;
    if (attempt.attempt === 1) entry.attempt_1 = attempt.grid;
    else entry.attempt_2 = attempt.grid;
    entry.correct[attempt.attempt - 1] = attempt.correct;
  }
  return byTest;
}

function iso(value: Date | null | undefined): string | null {
  return value ? value.toISOString() : null;
}
