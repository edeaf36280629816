-- developers-italia-api v1.2.0: software.analysis (jsonb) with its GIN index, which the app
-- creates by hand, not from the model; the catalogs and catalog_sources tables; and the
-- catalog_id columns on publishers and software (indexed, deliberately without FK constraints,
-- as GORM leaves them). Added columns go at the end of their tables, as AutoMigrate puts them.

ALTER TABLE "software" ADD COLUMN "analysis" jsonb;
CREATE INDEX "idx_software_analysis_gin" ON "software" USING gin ("analysis");

CREATE TABLE "catalogs" (
  "id" text,
  "name" text NOT NULL,
  "alternative_id" text,
  "active" boolean NOT NULL DEFAULT true,
  "publishers_namespace" text,
  "created_at" timestamptz,
  "updated_at" timestamptz,
  PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "idx_catalogs_alternative_id" ON "catalogs" ("alternative_id");
CREATE INDEX "idx_catalogs_created_at" ON "catalogs" ("created_at");

CREATE TABLE "catalog_sources" (
  "id" text,
  "driver" text,
  "url" text NOT NULL,
  "args" text,
  "catalog_id" text NOT NULL,
  "created_at" timestamptz,
  "updated_at" timestamptz,
  PRIMARY KEY ("id"),
  CONSTRAINT "fk_catalogs_sources" FOREIGN KEY ("catalog_id") REFERENCES "catalogs" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "idx_catalog_sources_driver" ON "catalog_sources" ("driver");
CREATE INDEX "idx_catalog_sources_catalog_id" ON "catalog_sources" ("catalog_id");
CREATE INDEX "idx_catalog_sources_created_at" ON "catalog_sources" ("created_at");

ALTER TABLE "publishers" ADD COLUMN "catalog_id" text;
CREATE INDEX "idx_publishers_catalog_id" ON "publishers" ("catalog_id");

ALTER TABLE "software" ADD COLUMN "catalog_id" text;
CREATE INDEX "idx_software_catalog_id" ON "software" ("catalog_id");
