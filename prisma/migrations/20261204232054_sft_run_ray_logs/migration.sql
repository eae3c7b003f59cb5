-- AlterTable
ALTER TABLE "sft_runs" ADD COLUMN     "log_tail" TEXT,
ADD COLUMN     "ray_job_id" TEXT;
