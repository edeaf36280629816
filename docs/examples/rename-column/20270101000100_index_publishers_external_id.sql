-- atlas:txmode none

-- Expand: the new column's unique index, built without blocking writes (one statement, outside a transaction).
CREATE UNIQUE INDEX CONCURRENTLY "idx_publishers_external_id" ON "publishers" ("external_id");
