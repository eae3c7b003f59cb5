-- AlterTable
ALTER TABLE "models" ADD COLUMN     "metrics" JSONB,
ADD COLUMN     "parent_model_id" TEXT,
ADD COLUMN     "sft_dataset_id" TEXT,
ADD COLUMN     "sft_run_id" UUID,
ADD COLUMN     "step" INTEGER;

-- CreateTable
CREATE TABLE "sft_runs" (
    "id" UUID NOT NULL,
    "base_model_id" TEXT NOT NULL,
    "dataset_id" TEXT NOT NULL,
    "backend" TEXT NOT NULL,
    "hyperparameters" JSONB NOT NULL,
    "state" TEXT NOT NULL,
    "step" INTEGER NOT NULL DEFAULT 0,
    "total_steps" INTEGER NOT NULL DEFAULT 0,
    "loss_curve" JSONB NOT NULL DEFAULT '[]',
    "device_seconds" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "gpu_type" TEXT,
    "usd_per_hour" DOUBLE PRECISION,
    "price_date" TEXT,
    "cost_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "output_dir" TEXT NOT NULL,
    "error_code" TEXT,
    "error_message" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "sft_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "sft_runs_state_idx" ON "sft_runs"("state");

-- CreateIndex
CREATE INDEX "models_sft_run_id_idx" ON "models"("sft_run_id");
