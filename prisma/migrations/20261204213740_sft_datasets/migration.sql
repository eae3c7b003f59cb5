-- CreateTable
CREATE TABLE "sft_datasets" (
    "id" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "format_version" INTEGER NOT NULL,
    "seed" INTEGER NOT NULL,
    "sources" JSONB NOT NULL,
    "exclusions" JSONB NOT NULL,
    "merges" JSONB NOT NULL,
    "counts" JSONB NOT NULL,
    "token_total" BIGINT NOT NULL,
    "loss_token_total" BIGINT NOT NULL,
    "content_hash" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sft_datasets_pkey" PRIMARY KEY ("id")
);
