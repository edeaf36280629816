import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../lib/config/source";
import { DsnError } from "../lib/database/dsn";
import { MigrationDirError } from "../lib/migration/dir";
import { MigrationSqlError } from "../lib/migration/guard";
import { PreflightError } from "../lib/migration/preflight";
import { DatabaseUnreachableError } from "../lib/database/state";
import { StaleBuildError } from "./buildStamp";
import { PromotionError } from "../lib/migration/promotion";

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

/**
 * What the program throws when it stops: a RunError, whose message Pulumi prints without a
 * stack trace. Errors a user can fix keep their message alone; any other error keeps its
 * stack trace as the message, so a bug still says where it happened.
 *
 * The RunError carries no stack frames of its own. Pulumi's handler also formats every
 * uncaught error with `util.inspect(err, { colors: true })`, and on Node 22.23 that loops
 * while memory lasts when a frame names a file directly under a scoped package, as the
 * source-mapped frames of @pulumi/pulumi do (`node_modules/@pulumi/resource.ts`;
 * nodejs/node#64011): 35 s of garbage collection and 3 GB of heap for every failed preview.
 */
export function userError(err: unknown): pulumi.RunError {
  const message = stopMessage(err);
  const stopped = new pulumi.RunError(message);
  stopped.stack = `${stopped.name}: ${message}`;
  return stopped;
}

function stopMessage(err: unknown): string {
  if (expected.some((type) => err instanceof type)) return (err as Error).message;
  if (err instanceof Error) return err.stack ?? err.message;
  return String(err);
}
