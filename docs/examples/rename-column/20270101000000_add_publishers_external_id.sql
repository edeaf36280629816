-- Expand: add the new column, and keep both columns in step while old pods write
-- alternative_id and new pods write external_id.
ALTER TABLE "publishers" ADD COLUMN "external_id" text;

CREATE FUNCTION "publishers_external_id_sync"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.external_id := COALESCE(NEW.external_id, NEW.alternative_id);
    NEW.alternative_id := COALESCE(NEW.alternative_id, NEW.external_id);
  ELSIF NEW.external_id IS DISTINCT FROM OLD.external_id THEN
    NEW.alternative_id := NEW.external_id;
  ELSIF NEW.alternative_id IS DISTINCT FROM OLD.alternative_id THEN
    NEW.external_id := NEW.alternative_id;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER "publishers_external_id_sync" BEFORE INSERT OR UPDATE ON "publishers"
  FOR EACH ROW EXECUTE FUNCTION "publishers_external_id_sync"();

-- Backfill the rows written before the trigger existed.
UPDATE "publishers" SET "external_id" = "alternative_id" WHERE "external_id" IS NULL AND "alternative_id" IS NOT NULL;
