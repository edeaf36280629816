import type { MigrationDir } from "../migration/dir";
import { loadSqlParser } from "../migration/guard";
import { contractBaseline, contractRevisionsSchema } from "../migration/phase";
import { planRun, type PreflightInput, type RunPlan, type StateReader } from "../migration/preflight";
import { checkPromotion, type PromotionCheck, type PromotionSource } from "../migration/promotion";
import { jobBaseline, migrationKey, migrationRun, type MigrationRun, type MigrationRunInput } from "../migration/run";
import type { ApiSpec, MigrationSpec } from "../spec";
import type { AppliedRecord, PhaseRecord } from "./applied";
import { preflightDatabase } from "./preflightUrl";
import { instanceLabel } from "./instance";
import { buildPlanReport, guardFindings, type GuardFinding, type PlanReport } from "./report";

export interface DeployPlanInput {
  /** The stack's short name (instance label fallback, the report's title). */
  readonly stack: string;
  readonly spec: ApiSpec;
  readonly dir: MigrationDir;
  /** The contract phase's directory (migrations/contract/); no contract Job without files. */
  readonly contractDir?: MigrationDir;
  /** The stack's own record of its last `up` (its outputs). */
  readonly applied: AppliedRecord;
  /** What the `promoteFrom` stack applied, read by the caller; none without promoteFrom. */
  readonly promotionSource?: PromotionSource;
  /** MIGRATION_PREFLIGHT_DATABASE_URL: what the online preflight reads with useExistingSecret (preflightUrl.ts). */
  readonly preflightDatabaseUrl?: string;
  /** How the online preflight reads the database (tests give their own). */
  readonly readState?: StateReader;
}

/** Everything a deploy will do that can be known before it runs, computed once. */
export interface DeployPlan {
  /** The app.kubernetes.io/instance label of every object. */
  readonly instance: string;
  /** The preflight's plan: what is pending, the baseline, the database. */
  readonly run: RunPlan;
  /** The migration Job's input and content key: exactly what the component creates. */
  readonly migration: MigrationRun;
  readonly findings: readonly GuardFinding[];
  /** The contract phase, run after the rollout; none when migrations/contract/ has no file. */
  readonly contract?: ContractPlan;
  readonly promotion?: PromotionCheck;
  /** The plan as data (the MIGRATION_PLAN_FILE and the migrationPlan output). */
  readonly report: PlanReport;
}

/** The contract phase's share of the plan: what runs after the rollout, and its Job. */
export interface ContractPlan {
  readonly dir: MigrationDir;
  readonly run: RunPlan;
  readonly migration: MigrationRun;
  readonly findings: readonly GuardFinding[];
}

/**
 * The one plan of a deploy, used by the program and `npm run plan` alike: the preflight, the
 * Job's baseline and key, the guard's findings and the promotion check. Refuses nothing
 * itself (the report lists its refusals); throws only what the preflight refuses.
 */
export async function planDeploy(input: DeployPlanInput): Promise<DeployPlan> {
  const { spec, dir, applied } = input;
  const m = spec.migration;
  const run = await planRun(
    {
      ...preflightInput(input, dir, { baseline: m.baseline, revisionsSchema: m.revisionsSchema, record: applied }),
      contractFiles: input.contractDir?.files,
      rollback: m.rollback,
    },
    input.readState,
  );
  // The parser is WebAssembly: loaded only when there is something to parse.
  if (run.pending.length > 0) await loadSqlParser();
  const databaseIdentity = run.databaseIdentity || undefined;
  const migration = jobRun(run, dir, applied.migrationKey, (baseline) =>
    migrationRunInput(m, dir, databaseIdentity, baseline),
  );
  const findings = guardFindings(run.pending, m, "expand");
  const contract = input.contractDir?.files.length
    ? await planContract(input, input.contractDir, databaseIdentity)
    : undefined;
  const everyPending = [...run.pending, ...(contract?.run.pending ?? [])];
  const promotion = input.promotionSource ? checkPromotion(everyPending, input.promotionSource) : undefined;
  const instance = instanceLabel({
    configured: spec.instance,
    recorded: applied.instance,
    deployedBefore: applied.deployed,
    stack: input.stack,
  });
  const report = buildPlanReport({
    stack: input.stack,
    spec,
    plan: run,
    findings,
    promotion,
    databaseIdentity,
    migrationKey: migration.key,
    contract,
  });
  return { instance, run, migration, findings, contract, promotion, report };
}

/**
 * The contract phase's plan: the same preflight over its own directory, revisions schema and
 * record, its baseline following migrationBaseline. Its database is the expand phase's.
 */
async function planContract(
  input: DeployPlanInput,
  dir: MigrationDir,
  databaseIdentity: string | undefined,
): Promise<ContractPlan> {
  const m = input.spec.migration;
  const record = input.applied.contract ?? {};
  const revisionsSchema = contractRevisionsSchema(m.revisionsSchema);
  const run = await planRun(
    {
      ...preflightInput(input, dir, { baseline: contractBaseline(dir, m.baseline), revisionsSchema, record }),
      phase: "contract",
      // A rollback keeps both Jobs; a stack that never ran its contract phase has nothing to keep.
      rollback: m.rollback && record.version !== undefined,
    },
    input.readState,
  );
  if (run.pending.length > 0) await loadSqlParser();
  const migration = jobRun(run, dir, record.migrationKey, (baseline) => ({
    ...migrationRunInput(m, dir, databaseIdentity, baseline),
    revisionsSchema,
    phase: "contract",
  }));
  return { dir, run, migration, findings: guardFindings(run.pending, m, "contract") };
}

/** The preflight's input for one phase: the stack's settings, and that phase's directory, revisions schema, baseline and record. */
function preflightInput(
  input: DeployPlanInput,
  dir: MigrationDir,
  phase: { baseline?: string; revisionsSchema?: string; record: PhaseRecord },
): PreflightInput {
  const { spec, applied } = input;
  const m = spec.migration;
  return {
    mode: m.preflight,
    dir,
    ...preflightDatabase(spec, input.preflightDatabaseUrl),
    databaseCaCert: spec.database.caCert,
    baseline: phase.baseline,
    revisionsSchema: phase.revisionsSchema,
    lastAppliedVersion: m.preflight === "online" && !m.rollback ? undefined : phase.record.version,
    lastAppliedMigrations: phase.record.migrations,
    lastDatabaseIdentity: applied.databaseIdentity,
    lastDatabaseUrlDigest: applied.databaseUrlDigest,
    acceptDatabase: m.acceptDatabase,
  };
}

/**
 * One phase's Job: its run input with the configured baseline while it takes effect; once
 * revisions exist, the Job's own (found by the key the record names), so that adding or
 * removing migrationBaseline then replaces nothing.
 */
function jobRun(
  run: RunPlan,
  dir: MigrationDir,
  recordedKey: string | undefined,
  runWith: (baseline: string | undefined) => MigrationRunInput,
): MigrationRun {
  const baseline = jobBaseline({
    baselineToWrite: run.baselineToWrite,
    recordedKey,
    versions: dir.files.map((f) => f.version),
    keyWith: (b) => migrationKey(runWith(b)),
  });
  return migrationRun(runWith(baseline));
}

/** The Job's run input from the stack's migration settings, the directory and the database. */
export function migrationRunInput(
  m: MigrationSpec,
  dir: MigrationDir,
  databaseIdentity: string | undefined,
  baseline: string | undefined,
): MigrationRunInput {
  return {
    atlasImage: m.atlasImage,
    baseline,
    atlasLockTimeout: m.atlasLockTimeout,
    revisionsSchema: m.revisionsSchema,
    sumTotal: dir.hashFile.total,
    databaseIdentity,
    postgresLockTimeout: m.postgresLockTimeout,
    deadlineSeconds: m.deadlineSeconds,
  };
}
