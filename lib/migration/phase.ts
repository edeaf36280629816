import * as fs from "fs";
import * as path from "path";
import { DEFAULT_REVISIONS_SCHEMA } from "../database/state";
import { computeHashFile } from "./atlasSum";
import { loadMigrationDir, MigrationDir, MigrationDirError } from "./dir";

/**
 * Expand and contract: a release's schema change in two phases. The expand migrations
 * (migrations/) run before the rollout, while the old pods still serve, so they must keep the
 * old release working; the contract migrations (migrations/contract/) run after the new pods
 * are rolled out and ready, when no old pod is left to break (GitLab's post-deployment
 * migrations). Each phase is its own Atlas directory, with its own atlas.sum and its own
 * revisions table, so Atlas decides what is pending in each without seeing the other.
 */
export type Phase = "expand" | "contract";

/** The contract directory, inside the expand one: Atlas reads only a directory's own *.sql files. */
export const CONTRACT_DIR = "contract";

export interface MigrationPhases {
  readonly expand: MigrationDir;
  /** Empty (no Job) when migrations/contract/ does not exist or holds no file. */
  readonly contract: MigrationDir;
}

/**
 * Atlas keeps its revisions in one table name, `atlas_schema_revisions`, so the contract
 * phase's table lives in a schema of its own next to the expand phase's.
 */
export const CONTRACT_SCHEMA_SUFFIX = "_contract";

/** The schema of the contract phase's revisions table, from migrationRevisionsSchema. */
export function contractRevisionsSchema(revisionsSchema: string | undefined): string {
  return `${revisionsSchema ?? DEFAULT_REVISIONS_SCHEMA}${CONTRACT_SCHEMA_SUFFIX}`;
}

/** Both phases' directories, verified; a version names one file in one phase only. */
export function loadMigrationPhases(root: string): MigrationPhases {
  const expand = loadMigrationDir(root);
  const contractPath = path.join(root, CONTRACT_DIR);
  const contract = fs.existsSync(contractPath)
    ? loadMigrationDir(contractPath)
    : { path: contractPath, files: [], hashFile: computeHashFile([]) };
  const expandVersions = new Map(expand.files.map((f) => [f.version, f.name]));
  for (const f of contract.files) {
    const other = expandVersions.get(f.version);
    if (other !== undefined) {
      throw new MigrationDirError(
        `${path.join(contractPath, f.name)}: version ${f.version} is also ${path.join(root, other)}; a version ` +
          "names one migration in one phase (acknowledgements, promotion and the stack's record go by version): " +
          "rename one (`npm run migrations:new` picks a fresh version) and re-hash",
      );
    }
  }
  return { expand, contract };
}

/**
 * The contract phase's baseline, from the expand phase's: the files up to migrationBaseline
 * came with a database GORM built for that release, in both phases. Atlas wants a baseline
 * that is a version of the directory, so the newest contract version up to it, if any.
 */
export function contractBaseline(contract: MigrationDir, baseline: string | undefined): string | undefined {
  if (baseline === undefined) return undefined;
  return contract.files.filter((f) => f.version <= baseline).at(-1)?.version;
}
