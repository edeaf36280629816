import { AppliedMigration, parseAppliedMigrations } from "../migration/promotion";

/** What the last successful `up` of a stack recorded about its migration run, from its outputs. */
export interface AppliedRecord {
  /** `appliedVersion`: the newest version of the directory it applied. */
  readonly version?: string;
  /** The versions of its `appliedMigrations`: every file of that directory. */
  readonly migrations?: readonly string[];
  /** `appliedMigrations` as exported (version, file, sha256; no contents), kept by a rollback. */
  readonly migrationRecords?: readonly AppliedMigration[];
  /** `appliedDatabase`: the identity (no credentials) of the database it migrated. */
  readonly databaseIdentity?: string;
  /** `appliedDatabaseUrlDigest` (a secret output): tells a credential change from none. */
  readonly databaseUrlDigest?: string;
  /** `instance`: the app.kubernetes.io/instance label its pods carry. */
  readonly instance?: string;
  /** `migrationKey`: the key of the migration Job in the cluster (jobBaseline reads the Job's baseline from it). */
  readonly migrationKey?: string;
  /** Whether an `up` of this stack ever exported a Deployment. */
  readonly deployed: boolean;
  /** The same record of the contract phase's run (`appliedContract*`, `contractMigrationKey`). */
  readonly contract?: PhaseRecord;
}

/** What a stack recorded about one phase's run. */
export interface PhaseRecord {
  readonly version?: string;
  readonly migrations?: readonly string[];
  readonly migrationRecords?: readonly AppliedMigration[];
  readonly migrationKey?: string;
}

/** The stack outputs an AppliedRecord is read from. */
export const APPLIED_OUTPUTS = [
  "appliedVersion",
  "appliedMigrations",
  "appliedDatabase",
  "appliedDatabaseUrlDigest",
  "instance",
  "deploymentName",
  "migrationKey",
  "appliedContractVersion",
  "appliedContractMigrations",
  "contractMigrationKey",
] as const;

/**
 * The record from a stack's outputs, however they were read (the program's StackReference,
 * the `pulumi` CLI): a value that is not a non-empty string counts as absent, so a secret the
 * reader could not decrypt (the CLI's "[secret]" aside) is simply not known.
 */
export function appliedRecord(
  outputs: Readonly<Partial<Record<(typeof APPLIED_OUTPUTS)[number], unknown>>>,
): AppliedRecord {
  const text = (v: unknown) => (typeof v === "string" && v !== "" && v !== "[secret]" ? v : undefined);
  const records = parseAppliedMigrations(outputs.appliedMigrations);
  const contractRecords = parseAppliedMigrations(outputs.appliedContractMigrations);
  return {
    version: text(outputs.appliedVersion),
    migrations: records?.map((m) => m.version),
    migrationRecords: records,
    databaseIdentity: text(outputs.appliedDatabase),
    databaseUrlDigest: text(outputs.appliedDatabaseUrlDigest),
    instance: text(outputs.instance),
    deployed: text(outputs.deploymentName) !== undefined,
    migrationKey: text(outputs.migrationKey),
    contract: {
      version: text(outputs.appliedContractVersion),
      migrations: contractRecords?.map((m) => m.version),
      migrationRecords: contractRecords,
      migrationKey: text(outputs.contractMigrationKey),
    },
  };
}
