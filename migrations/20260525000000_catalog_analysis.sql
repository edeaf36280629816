-- developers-italia-api v1.4.0 (= main): catalogs.analysis (jsonb) with its hand-created GIN
-- index, the same shape as software.analysis.

ALTER TABLE "catalogs" ADD COLUMN "analysis" jsonb;
CREATE INDEX "idx_catalogs_analysis_gin" ON "catalogs" USING gin ("analysis");
