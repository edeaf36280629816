import { createHash } from "crypto";
import { MigrationFile } from "./dir";

/**
 * Promotion between stacks: the same commit goes to staging, then production, and a
 * migration may reach production only once the stack it is promoted from applied exactly
 * that file successfully. The source stack says what it applied in its `appliedMigrations`
 * output, written only after its migration Job completed.
 */

/** One migration a stack applied successfully, as it exports it. */
export interface AppliedMigration {
  readonly version: string;
  readonly file: string;
  /** sha256 (hex) of the file's bytes: the same version with other content is not the same migration. */
  readonly sha256: string;
}

/** What a stack exports once its Job completed: every file of the directory it shipped. */
export function appliedMigrations(files: readonly MigrationFile[]): AppliedMigration[] {
  return files.map((f) => ({ version: f.version, file: f.name, sha256: fileSha256(f) }));
}

export function fileSha256(file: MigrationFile): string {
  return createHash("sha256").update(file.bytes).digest("hex");
}

/** The stack promoted from, as read from its outputs. */
export interface PromotionSource {
  /** The stack name as configured in promoteFrom. */
  readonly stack: string;
  /** Its `appliedMigrations` output; undefined when it never completed a migration Job. */
  readonly applied?: readonly AppliedMigration[];
}

/**
 * The source stack's record of both phases (`appliedMigrations`, `appliedContractMigrations`):
 * a version names one file in one phase, so what it applied is their union.
 */
export function promotionSource(stack: string, expand: unknown, contract: unknown): PromotionSource {
  const applied = parseAppliedMigrations(expand);
  const after = parseAppliedMigrations(contract) ?? [];
  return { stack, applied: applied && [...applied, ...after] };
}

export interface UntriedMigration {
  readonly version: string;
  readonly file: string;
  readonly reason: string;
}

export interface PromotionCheck {
  readonly from: string;
  /** Newest version the source stack applied, if any. */
  readonly sourceAppliedVersion?: string;
  /** How many migrations the source stack applied. */
  readonly sourceAppliedCount: number;
  /** Pending versions the source stack applied with the same content. */
  readonly tried: readonly string[];
  /** Pending files the source stack has not applied (or applied with other content). */
  readonly untried: readonly UntriedMigration[];
}

export class PromotionError extends Error {}

/** Compares this stack's pending migrations with what the source stack applied. */
export function checkPromotion(pending: readonly MigrationFile[], source: PromotionSource): PromotionCheck {
  const applied = new Map((source.applied ?? []).map((a) => [a.version, a]));
  const tried: string[] = [];
  const untried: UntriedMigration[] = [];
  for (const f of pending) {
    const seen = applied.get(f.version);
    if (!seen) {
      untried.push({
        version: f.version,
        file: f.name,
        reason:
          source.applied === undefined
            ? `stack ${source.stack} has not completed a migration run yet`
            : `stack ${source.stack} has not applied it`,
      });
    } else if (seen.sha256 !== fileSha256(f)) {
      untried.push({
        version: f.version,
        file: f.name,
        reason: `stack ${source.stack} applied ${seen.file} with other content (sha256 ${seen.sha256.slice(0, 12)}, here ${fileSha256(f).slice(0, 12)})`,
      });
    } else {
      tried.push(f.version);
    }
  }
  const versions = [...applied.keys()].sort();
  return {
    from: source.stack,
    sourceAppliedVersion: versions[versions.length - 1],
    sourceAppliedCount: versions.length,
    tried,
    untried,
  };
}

/** The refusal, or nothing when every pending migration was tried. */
export function promotionRefusal(check: PromotionCheck): string | undefined {
  if (check.untried.length === 0) return undefined;
  const lines = check.untried.map((u) => `  ${u.file}: ${u.reason}`);
  return (
    `config promoteFrom: ${check.untried.length} pending migration(s) were not applied successfully by stack ${check.from}:\n` +
    `${lines.join("\n")}\n` +
    `Deploy this commit to ${check.from} first (its migration Job must succeed), then preview this stack again; ` +
    "to deploy without promotion, remove promoteFrom from this stack's config"
  );
}

/** Throws PromotionError when a pending migration was not tried by the source stack. */
export function refuseUntried(check: PromotionCheck): void {
  const refusal = promotionRefusal(check);
  if (refusal) throw new PromotionError(refusal);
}

/**
 * Reads the source stack's `appliedMigrations` output; anything but a well-formed list
 * (an older program's stack, a hand-edited state) counts as nothing applied.
 */
export function parseAppliedMigrations(value: unknown): AppliedMigration[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const ok = value.every(
    (v) =>
      typeof v === "object" &&
      v !== null &&
      typeof (v as AppliedMigration).version === "string" &&
      typeof (v as AppliedMigration).file === "string" &&
      typeof (v as AppliedMigration).sha256 === "string",
  );
  return ok ? (value as AppliedMigration[]).map(({ version, file, sha256 }) => ({ version, file, sha256 })) : undefined;
}

/** The preview's promotion block: what the source stack applied, and which pending files it tried. */
export function describePromotion(check: PromotionCheck): string {
  const lines = [`Promotion from stack ${check.from}:`];
  lines.push(
    check.sourceAppliedCount === 0
      ? `  ${check.from} has applied no migration yet`
      : `  ${check.from} applied ${check.sourceAppliedCount} migration(s), newest ${check.sourceAppliedVersion}`,
  );
  if (check.tried.length === 0 && check.untried.length === 0) lines.push("  nothing pending here");
  for (const v of check.tried) lines.push(`    ${v}  applied by ${check.from}`);
  for (const u of check.untried) lines.push(`    ${u.version}  NOT TRIED: ${u.reason}`);
  return lines.join("\n");
}
