-- developers-italia-api v1.3.0 and later declare idx_log_entity, but only databases whose logs
-- table was created by >= v1.3.0 have it (AutoMigrate skips an existing logs table). This file
-- sorts after every baseline version, so it runs on every database, and IF NOT EXISTS leaves a
-- database that already has the index untouched. Never use this version as a baseline.

CREATE INDEX IF NOT EXISTS "idx_log_entity" ON "logs" ("entity_id", "entity_type");
