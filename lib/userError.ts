import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./settings";
import { DsnError } from "./dsn";
import { MigrationDirError } from "./migrationDir";
import { MigrationSqlError } from "./destructiveGuard";
import { PreflightError } from "./preflight";
import { DatabaseUnreachableError } from "./databaseState";
import { StaleBuildError } from "./buildStamp";
import { PromotionError } from "./promotion";

const expected = [
  ConfigError,
  DsnError,
  MigrationDirError,
  MigrationSqlError,
  PreflightError,
  DatabaseUnreachableError,
  StaleBuildError,
  PromotionError,
];

/** Errors a user can fix become RunErrors: Pulumi prints their message without a stack trace. */
export function userError(err: unknown): unknown {
  return expected.some((type) => err instanceof type) ? new pulumi.RunError((err as Error).message) : err;
}
