import { parseAcknowledgements, type Acknowledgement } from "../migration/guard";
import type { MigrationPreflight, MigrationSpec } from "../spec";
import { ATLAS_IMAGE, checkPinnedImage } from "./image";
import {
  flag,
  GO_MAX_DURATION_NS,
  goDurationNs,
  oneOf,
  POSTGRES_MAX_TIMEOUT_MS,
  postgresDurationMs,
  text,
  wholeNumber,
} from "./read";
import { ConfigError, type ConfigSource } from "./source";

const versionPattern = /^\d{14}$/;

/** The migration Job's settings (the `migration*` keys, `atlasImage`, the `allow*Migrations` acknowledgements, `rollbackWithoutMigrations`). */
export function readMigration(config: ConfigSource): MigrationSpec {
  readMigrationSource(text(config, "migrationSource"));
  const baseline = text(config, "migrationBaseline");
  if (baseline !== undefined && !versionPattern.test(baseline)) {
    throw new ConfigError(
      "migrationBaseline",
      `expected a 14-digit migration version (see migrations/README.md), got ${JSON.stringify(baseline)}`,
    );
  }
  const atlasLockTimeout = text(config, "migrationLockTimeout") ?? "10s";
  const lockTimeoutNs = goDurationNs(atlasLockTimeout);
  if (lockTimeoutNs === undefined) {
    throw new ConfigError(
      "migrationLockTimeout",
      `expected a Go duration such as 10s or 1m30s, got ${JSON.stringify(atlasLockTimeout)}`,
    );
  }
  if (lockTimeoutNs > GO_MAX_DURATION_NS) {
    throw new ConfigError(
      "migrationLockTimeout",
      `${JSON.stringify(atlasLockTimeout)} is longer than a Go duration can hold (2562047h, about 292 years), so Atlas ` +
        "would refuse its --lock-timeout; use a duration such as 10s or 1m30s",
    );
  }
  const revisionsSchema = text(config, "migrationRevisionsSchema");
  if (revisionsSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(revisionsSchema)) {
    throw new ConfigError("migrationRevisionsSchema", `${JSON.stringify(revisionsSchema)} is not a plain schema name`);
  }
  const preflight = oneOf<MigrationPreflight>(config, "migrationPreflight", ["online", "offline", "off"], "offline");
  const allowDestructive = readAcknowledgements(
    "allowDestructiveMigrations",
    text(config, "allowDestructiveMigrations"),
  );
  const allowBreaking = readAcknowledgements("allowBreakingMigrations", text(config, "allowBreakingMigrations"));
  const allowLocking = readAcknowledgements("allowLockingMigrations", text(config, "allowLockingMigrations"));
  const atlasImage = text(config, "atlasImage") ?? ATLAS_IMAGE;
  checkPinnedImage("atlasImage", atlasImage);

  const postgresLockTimeout = text(config, "migrationLockWaitTimeout") ?? "5s";
  const lockWaitMs = postgresDurationMs(postgresLockTimeout);
  if (lockWaitMs === undefined) {
    throw new ConfigError(
      "migrationLockWaitTimeout",
      `expected a PostgreSQL duration such as 5s, 500ms or 1min, or 0 for no limit, got ${JSON.stringify(postgresLockTimeout)}`,
    );
  }
  if (lockWaitMs > POSTGRES_MAX_TIMEOUT_MS) {
    throw new ConfigError(
      "migrationLockWaitTimeout",
      `${JSON.stringify(postgresLockTimeout)} is above PostgreSQL's limit for lock_timeout (2147483647ms, about 596h), ` +
        "so the server would refuse the migration's connection; use a duration such as 5s, or 0 for no limit",
    );
  }
  const acceptDatabase = text(config, "migrationAcceptDatabase");
  if (acceptDatabase !== undefined && !/^[0-9a-f]{16}$/.test(acceptDatabase)) {
    throw new ConfigError(
      "migrationAcceptDatabase",
      `expected the 16-hex-digit database identity that the preview prints, got ${JSON.stringify(acceptDatabase)}`,
    );
  }
  return {
    atlasImage,
    baseline,
    deadlineSeconds: wholeNumber(config, "migrationDeadlineSeconds", 30, 3600) ?? 300,
    atlasLockTimeout,
    postgresLockTimeout,
    revisionsSchema,
    preflight,
    allowDestructive,
    allowBreaking,
    allowLocking,
    rollback: flag(config, "rollbackWithoutMigrations") ?? false,
    acceptDatabase,
  };
}

/**
 * `migrationSource`: kept as a key so that `image` gets its reason. Only `configmap` (this
 * repository's migrations/ mounted into Atlas's image) exists.
 */
function readMigrationSource(raw: string | undefined): void {
  if (raw === undefined || raw === "configmap") return;
  if (raw === "image") {
    throw new ConfigError(
      "migrationSource",
      "image is not supported: no published developers-italia-api image has a migrate subcommand (upstream registers " +
        "only token; italia/developers-italia-api#312 has not landed), and the plan, the destructive-change guard and " +
        "the baseline check describe this repository's migrations/, not an image's; use configmap, the default: " +
        "pulumi config rm migrationSource",
    );
  }
  throw new ConfigError(
    "migrationSource",
    `expected configmap (the default), got ${JSON.stringify(raw)}; remove it with: pulumi config rm migrationSource`,
  );
}

/** An acknowledgement key (allowDestructiveMigrations, allowBreakingMigrations, allowLockingMigrations) as the CLI stores it (lib/migration/guard.ts, parseAcknowledgements). */
export function readAcknowledgements(key: string, raw: string | undefined): Acknowledgement[] {
  try {
    return parseAcknowledgements(raw);
  } catch (err) {
    throw new ConfigError(key, (err as Error).message);
  }
}
