import * as pulumi from "@pulumi/pulumi";
import { apiArgs, type ApiWorkloadArgs, type DevelopersItaliaApiArgs } from "../../components/developersItaliaApi";
import { readSpec } from "../../lib/config/readSpec";
import { migrationRunInput, planDeploy } from "../../lib/deploy/plan";
import type { MigrationDir } from "../../lib/migration/dir";
import { migrationRun } from "../../lib/migration/run";
import type { ApiSpec, MigrationSpec } from "../../lib/spec";

/** A ConfigSource over plain values (objects as the CLI stores them: JSON), these keys secret. */
export function configOf(values: Record<string, unknown>, secret: readonly string[] = ["databaseDsn", "pasetoKey"]) {
  return {
    get: (k: string) => {
      const v = values[k];
      return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
    },
    isSecret: (k: string) => secret.includes(k),
  };
}

/** The spec a stack with these config values deploys. */
export function specOf(values: Record<string, unknown>): ApiSpec {
  return readSpec(configOf(values));
}

/** The component's arguments for these config values, built as index.ts builds them (offline plan, first deploy). */
export async function argsFromConfig(
  values: Record<string, unknown>,
  dir: MigrationDir,
  stack = "dev",
): Promise<DevelopersItaliaApiArgs> {
  const spec = specOf(values);
  const deploy = await planDeploy({ stack, spec, dir, applied: { deployed: false } });
  return apiArgs(spec, deploy, dir);
}

const MIGRATION: MigrationSpec = {
  atlasImage: "arigaio/atlas:0.13.1",
  deadlineSeconds: 300,
  atlasLockTimeout: "10s",
  postgresLockTimeout: "5s",
  preflight: "offline",
  allowDestructive: [],
  allowBreaking: [],
  allowLocking: [],
  rollback: false,
};

export interface TestOverrides extends Partial<Omit<DevelopersItaliaApiArgs, "migration" | "workload">> {
  readonly workload?: Partial<ApiWorkloadArgs>;
  /** The run's settings over a default (Atlas 0.13.1, 300 s, 10s, 5s). */
  readonly migration?: Partial<MigrationSpec>;
  readonly hold?: boolean;
  readonly databaseIdentity?: string;
}

/**
 * Arguments for a component test: the spec's defaults (readSpec of a stack with only a
 * database), the migration run built as the plan builds it, and these changes.
 */
export function testArgs(dir: MigrationDir, o: TestOverrides = {}): DevelopersItaliaApiArgs {
  const defaults = specOf({ databaseDsn: "postgres://app@db:5432/api?sslmode=disable" });
  const m = { ...MIGRATION, ...o.migration };
  return {
    namespace: defaults.namespace,
    instance: "dia",
    createNamespace: true,
    database: { url: pulumi.secret("postgres://app@db:5432/api?sslmode=disable") },
    exposure: defaults.exposure,
    scaling: defaults.scaling,
    rollout: defaults.rollout,
    scheduling: defaults.scheduling,
    networkPolicy: defaults.networkPolicy,
    ...o,
    workload: {
      ...defaults.workload,
      image: "ghcr.io/italia/developers-italia-api:v1.4.0",
      env: defaults.env,
      resources: defaults.resources,
      ...o.workload,
    },
    migration: {
      dir,
      run: migrationRun(migrationRunInput(m, dir, o.databaseIdentity, m.baseline)),
      hold: o.hold ?? false,
    },
  };
}
