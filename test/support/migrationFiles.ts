import { computeHashFile } from "../../lib/migration/atlasSum";
import { MigrationDir, MigrationFile } from "../../lib/migration/dir";

/** An in-memory migration file, as loadMigrationDir would return it. */
export function migrationFile(version: string, text = "", description = "m"): MigrationFile {
  return { name: `${version}_${description}.sql`, version, description, text, bytes: Buffer.from(text) };
}

/** An in-memory, consistent migration directory. */
export function migrationDir(files: MigrationFile[], path = "/repo/migrations"): MigrationDir {
  return { path, files, hashFile: computeHashFile(files) };
}
