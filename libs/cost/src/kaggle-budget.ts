import { deviceCostUsd } from "./device-cost.ts";
import { getPriceTable, type PriceTable } from "./price-table.ts";

/** Device budget of the Kaggle preset and the per-task deadline it implies. */
export interface KaggleBudget {
  gpuType: "l4";
  /** GPUs the Kaggle machine offers. */
  devices: number;
  /** Run-time limit of a Kaggle submission, in hours. */
  hours: number;
  /** Hidden tasks a Kaggle submission is run on. */
  tasks: number;
  /** devices × hours × 3600. */
  deviceSecondsTotal: number;
  /** deviceSecondsTotal / tasks: the device deadline of one task, in seconds. */
  taskDeadlineSeconds: number;
  /** deviceSecondsTotal priced at the table's L4 rate, in USD. */
  estimatedUsd: number;
}

const KAGGLE_DEVICES = 4;
const KAGGLE_HOURS = 12;
const KAGGLE_TASKS = 240;

/**
 * Returns the Kaggle preset's budget: 4 × L4 for 12 hours over 240 tasks, i.e.
 * 172,800 device seconds and a 720-second (12-minute) device deadline per task.
 * The deadline ignores notebook start-up and safety margins. `estimatedUsd` uses
 * `table`, which defaults to {@link getPriceTable}.
 *
 * @throws CostError when `table` has no `l4` price.
 */
export function kagglePresetBudget(table: PriceTable = getPriceTable()): KaggleBudget {
  const deviceSecondsTotal = KAGGLE_DEVICES * KAGGLE_HOURS * 3600;
  return {
    gpuType: "l4",
    devices: KAGGLE_DEVICES,
    hours: KAGGLE_HOURS,
    tasks: KAGGLE_TASKS,
    deviceSecondsTotal,
    taskDeadlineSeconds: deviceSecondsTotal / KAGGLE_TASKS,
    estimatedUsd: deviceCostUsd("l4", deviceSecondsTotal, table),
  };
}
