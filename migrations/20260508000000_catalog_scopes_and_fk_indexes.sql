-- developers-italia-api v1.3.0: catalogs.scopes (a JSON array stored as text, as GORM's json
-- serializer does) and the indexes on the FK columns publishers_code_hosting.publisher_id and
-- software_urls.software_id. v1.3.0 also declares idx_log_entity, but GORM never re-migrates an
-- existing logs table, so databases upgraded to v1.3.0 lack it: it lives in
-- 20260612000000_log_entity_index.sql, which runs after any baseline.

ALTER TABLE "catalogs" ADD COLUMN "scopes" text;
CREATE INDEX "idx_publishers_code_hosting_publisher_id" ON "publishers_code_hosting" ("publisher_id");
CREATE INDEX "idx_software_urls_software_id" ON "software_urls" ("software_id");
