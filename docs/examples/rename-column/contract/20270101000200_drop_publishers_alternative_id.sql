-- Contract: no pod reads or writes alternative_id any more.
DROP TRIGGER "publishers_external_id_sync" ON "publishers";
DROP FUNCTION "publishers_external_id_sync"();
ALTER TABLE "publishers" DROP COLUMN "alternative_id";
