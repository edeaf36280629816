import * as path from "path";
import { stackConfig } from "../../stack/config";
import { projectRoot } from "../../runtime/buildStamp";
import { loadSqlParser } from "../../lib/migration/guard";
import { checkRisks } from "../../lib/migration/risk";
import { loadMigrationDir } from "../../lib/migration/dir";
import { readSpec } from "../../lib/config/readSpec";
import { userError } from "../../runtime/userError";

/**
 * A Pulumi program (run by TestStack in place of index.ts, compiled) that does what index.ts does
 * before any resource: read and validate the stack's config and run the destructive-change
 * guard (every risk class, expand phase), here on every migration. It creates nothing, so it needs no cluster.
 */
export = async () => {
  try {
    const settings = readSpec(stackConfig());
    const migrations = loadMigrationDir(path.join(projectRoot(__dirname), "migrations"));
    await loadSqlParser();
    const found = checkRisks(migrations.files, settings.migration, "expand");
    const entries = (list: readonly { version: string; digest: string }[]) =>
      list.map((a) => `${a.version}:${a.digest}`);
    const { allowDestructive, allowBreaking, allowLocking } = settings.migration;
    return {
      allowDestructive: entries(allowDestructive),
      allowBreaking: entries(allowBreaking),
      allowLocking: entries(allowLocking),
      acknowledged: found.map((d) => d.version),
    };
  } catch (err) {
    throw userError(err);
  }
};
