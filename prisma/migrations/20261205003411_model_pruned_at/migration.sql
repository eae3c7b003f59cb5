-- AlterTable
ALTER TABLE "models" ADD COLUMN     "pruned_at" TIMESTAMP(3);
