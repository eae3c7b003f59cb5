-- CreateTable
CREATE TABLE "models" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "architecture" TEXT NOT NULL,
    "parameters" BIGINT NOT NULL DEFAULT 0,
    "trained" BOOLEAN NOT NULL DEFAULT false,
    "description" TEXT NOT NULL DEFAULT '',
    "promoted_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "models_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "batches" (
    "id" UUID NOT NULL,
    "state" TEXT NOT NULL,
    "model_id" TEXT NOT NULL,
    "options" JSONB NOT NULL,
    "dataset" TEXT,
    "task_count" INTEGER NOT NULL,
    "score" DOUBLE PRECISION,
    "task_score" DOUBLE PRECISION,
    "scored_test_inputs" INTEGER,
    "solved_test_inputs" INTEGER,
    "scored_tasks" INTEGER,
    "unscored_tasks" INTEGER,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),
    "enqueued_at" TIMESTAMP(3),

    CONSTRAINT "batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "batch_tasks" (
    "batch_id" UUID NOT NULL,
    "task_id" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "task" JSONB NOT NULL,
    "test_count" INTEGER NOT NULL,
    "has_ground_truth" BOOLEAN NOT NULL,
    "state" TEXT NOT NULL,
    "current_run" INTEGER NOT NULL DEFAULT 0,
    "result_run" INTEGER,
    "failure_code" TEXT,
    "failure_message" TEXT,
    "correct" JSONB,
    "solved_fraction" DOUBLE PRECISION,
    "details" JSONB,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "batch_tasks_pkey" PRIMARY KEY ("batch_id","task_id")
);

-- CreateTable
CREATE TABLE "task_runs" (
    "batch_id" UUID NOT NULL,
    "task_id" TEXT NOT NULL,
    "run_number" INTEGER NOT NULL,
    "job_id" TEXT NOT NULL,
    "worker_id" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "started_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMP(3),
    "ttft_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "decode_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "score_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "device_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "wall_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "error_code" TEXT,
    "error_message" TEXT,

    CONSTRAINT "task_runs_pkey" PRIMARY KEY ("batch_id","task_id","run_number")
);

-- CreateTable
CREATE TABLE "attempts" (
    "batch_id" UUID NOT NULL,
    "task_id" TEXT NOT NULL,
    "test_index" INTEGER NOT NULL,
    "attempt" INTEGER NOT NULL,
    "grid" JSONB NOT NULL,
    "correct" BOOLEAN,
    "run_number" INTEGER NOT NULL,

    CONSTRAINT "attempts_pkey" PRIMARY KEY ("batch_id","task_id","test_index","attempt")
);

-- CreateTable
CREATE TABLE "candidates" (
    "batch_id" UUID NOT NULL,
    "task_id" TEXT NOT NULL,
    "test_index" INTEGER NOT NULL,
    "candidate_key" TEXT NOT NULL,
    "valid" BOOLEAN NOT NULL,
    "grid" JSONB,
    "invalid_reason" TEXT,
    "count" INTEGER NOT NULL,
    "greedy" BOOLEAN NOT NULL DEFAULT false,
    "mean_log_prob" DOUBLE PRECISION,
    "rank_score" DOUBLE PRECISION,
    "rank" INTEGER,
    "correct" BOOLEAN,
    "run_number" INTEGER NOT NULL,

    CONSTRAINT "candidates_pkey" PRIMARY KEY ("batch_id","task_id","test_index","candidate_key")
);

-- CreateTable
CREATE TABLE "cost_records" (
    "batch_id" UUID NOT NULL,
    "task_id" TEXT NOT NULL,
    "run_number" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "gpu_type" TEXT NOT NULL,
    "device_seconds" DOUBLE PRECISION NOT NULL,
    "usd_per_hour" DOUBLE PRECISION NOT NULL,
    "price_date" TEXT NOT NULL,
    "usd" DOUBLE PRECISION NOT NULL,
    "wasted" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "cost_records_pkey" PRIMARY KEY ("batch_id","task_id","run_number","kind")
);

-- CreateIndex
CREATE INDEX "batches_state_idx" ON "batches"("state");

-- CreateIndex
CREATE UNIQUE INDEX "batch_tasks_batch_id_position_key" ON "batch_tasks"("batch_id", "position");

-- AddForeignKey
ALTER TABLE "batches" ADD CONSTRAINT "batches_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "models"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "batch_tasks" ADD CONSTRAINT "batch_tasks_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "task_runs" ADD CONSTRAINT "task_runs_batch_id_task_id_fkey" FOREIGN KEY ("batch_id", "task_id") REFERENCES "batch_tasks"("batch_id", "task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_batch_id_task_id_fkey" FOREIGN KEY ("batch_id", "task_id") REFERENCES "batch_tasks"("batch_id", "task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "candidates" ADD CONSTRAINT "candidates_batch_id_task_id_fkey" FOREIGN KEY ("batch_id", "task_id") REFERENCES "batch_tasks"("batch_id", "task_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "cost_records" ADD CONSTRAINT "cost_records_batch_id_task_id_run_number_fkey" FOREIGN KEY ("batch_id", "task_id", "run_number") REFERENCES "task_runs"("batch_id", "task_id", "run_number") ON DELETE CASCADE ON UPDATE CASCADE;
