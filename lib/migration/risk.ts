import type { MigrationFile } from "./dir";
import {
  type Acknowledgement,
  acknowledgeCommands,
  destructiveKinds,
  isAcknowledged,
  MigrationSqlError,
  type Node,
  reviewedStatements,
  type ReviewedStatement,
} from "./guard";
import { created, type Kind, liveKinds, type LiveRisk, relationKey, targets } from "./liveKinds";
import { squawkViolations } from "./squawk";

/**
 * What a pending statement does to a live system, in three classes, each acknowledged in its
 * own stack config key. The classifier reads the statements Atlas will send
 * (reviewedStatements) with PostgreSQL's parser; squawk's verdict is added (lib/migration/squawk.ts).
 */
export type Risk = "loses-data" | LiveRisk;

/**
 * expand: the migration runs before the rollout, while the old release serves; contract: after
 * the new pods are rolled out and ready, when no old pod is left to break.
 */
export type Phase = "expand" | "contract";

/** A stack's acknowledgements, one list per class (MigrationSpec holds them). */
export interface Acknowledged {
  readonly allowDestructive: readonly Acknowledgement[];
  readonly allowBreaking: readonly Acknowledgement[];
  readonly allowLocking: readonly Acknowledgement[];
}

export interface RiskClass {
  /** The stack config key that acknowledges it. */
  readonly key: string;
  readonly field: keyof Acknowledged;
  /** What the statements do, after "pending migrations ...". */
  readonly words: string;
}

export const RISK_CLASSES: Readonly<Record<Risk, RiskClass>> = {
  "loses-data": {
    key: "allowDestructiveMigrations",
    field: "allowDestructive",
    words: "drop or rewrite data, or run SQL that cannot be verified",
  },
  "breaks-old-pods": {
    key: "allowBreakingMigrations",
    field: "allowBreaking",
    words: "break the API pods still serving the old release during the rollout",
  },
  "long-lock": {
    key: "allowLockingMigrations",
    field: "allowLocking",
    words:
      "hold a long exclusive lock on a table that already exists, or rewrite it: the live API's queries on it wait until the statement ends",
  },
};
export const RISKS = Object.keys(RISK_CLASSES) as Risk[];

/** squawk's rules that decide a class (each is seen to fire in test/unit/riskGuard.test.ts): its finding on a
 * statement confirms ours of that class, or is added where we found none of it. */
export const SQUAWK_RULES: Readonly<Record<string, Risk>> = {
  "require-concurrent-index-creation": "long-lock",
  "require-concurrent-reindex": "long-lock",
  "changing-column-type": "long-lock",
  "adding-field-with-default": "long-lock",
  "constraint-missing-not-valid": "long-lock",
  "adding-foreign-key-constraint": "long-lock",
  "disallowed-unique-constraint": "long-lock",
  "adding-serial-primary-key-field": "long-lock",
  "adding-not-nullable-field": "long-lock",
  // Validates every column of the domain, in every table, under their locks.
  "ban-alter-domain-with-add-constraint": "long-lock",
  "adding-required-field": "breaks-old-pods",
  "renaming-column": "breaks-old-pods",
  "renaming-table": "breaks-old-pods",
  "ban-drop-table": "loses-data",
  "ban-drop-column": "loses-data",
  "ban-drop-database": "loses-data",
  "ban-truncate-cascade": "loses-data",
};

/**
 * squawk's rules that only confirm our finding and never add one: we read the same thing with
 * PostgreSQL's own rule, proven on the server (test/integration/lockRisk.test.ts). squawk's
 * adding-field-with-default calls any function default volatile (jsonb_build_object,
 * current_setting), which PostgreSQL 11+ evaluates once, without a rewrite.
 */
export const SQUAWK_CONFIRMS_ONLY: ReadonlySet<string> = new Set(["adding-field-with-default"]);

/** squawk's rules that decide nothing here, and why. */
export const SQUAWK_IGNORED: Readonly<Record<string, string>> = {
  "require-lock-timeout": "the migration session starts with lock_timeout (lib/migration/run.ts)",
  "require-statement-timeout": "the migration session starts with statement_timeout",
  "require-timeout-settings": "the migration session starts with both timeouts",
  "require-concurrent-index-deletion":
    "DROP INDEX holds its lock for a catalog change only, and lock_timeout bounds the wait",
  "ban-drop-not-null": "relaxes a constraint: nothing the old release does fails",
  "ban-create-domain-with-constraint": "a new domain is on no table yet",
  "require-enum-value-ordering": "style: where a new enum value sorts",
  "prefer-robust-stmts": "style: Atlas records each file's statements, a file is not re-run",
  "prefer-bigint-over-int": "style",
  "prefer-bigint-over-smallint": "style",
  "prefer-identity": "style",
  "prefer-text-field": "style",
  "prefer-timestamptz": "style",
  "ban-char-field": "style",
  "syntax-error": "squawk's own parser; PostgreSQL's parser (libpg_query) already accepted the statement",
};

/**
 * Shipped files of migrations/ the project has reviewed, per class, bound to their content as
 * a stack's entries are (an edit voids the review). Their long-lock statements are plain CREATE
 * INDEX on tables that exist only on a database baselined from the API's GORM AutoMigrate
 * (migrations/README.md: a fresh database creates those tables in the same run, where nothing
 * is flagged): the API releases' own AutoMigrate builds these indexes the same way at start-up,
 * while serving, on tables of a few thousand rows; idx_log_entity (IF NOT EXISTS) is the one
 * on a table that grows, and migrations/README.md says how to build it first, concurrently.
 */
export const PROJECT_REVIEWED: Readonly<Record<Risk, readonly Acknowledgement[]>> = {
  "loses-data": [],
  "breaks-old-pods": [],
  "long-lock": [
    { version: "20260410000000", digest: "687a500b3462e1ed" },
    { version: "20260508000000", digest: "5fc70ec863dd4efa" },
    { version: "20260525000000", digest: "ffafabcbf0350d20" },
    { version: "20260612000000", digest: "4f827648261ab5b0" },
  ],
};

/** Whether the project's own review (PROJECT_REVIEWED) covers the file for the class. */
export function isProjectReviewed(risk: Risk, file: MigrationFile): boolean {
  return isAcknowledged(file, PROJECT_REVIEWED[risk]);
}

/** Whether the phase needs an acknowledgement of the class: after the rollout no old pod is left to break. */
export function needsAcknowledgement(risk: Risk, phase: Phase): boolean {
  return !(risk === "breaks-old-pods" && phase === "contract");
}

const LOSES_DATA =
  "make sure nothing needs the data any more (copy it first); a drop of what the old release reads belongs in a contract migration";

export interface RiskFinding {
  readonly file: string;
  readonly version: string;
  /** 1-based line of the statement's first token. */
  readonly line: number;
  readonly risk: Risk;
  /** What it does, e.g. "CREATE INDEX without CONCURRENTLY". */
  readonly kind: string;
  /** The safe way, or what to do instead. */
  readonly advice: string;
  /** The statement, shortened for messages. */
  readonly statement: string;
  /** squawk's rules that flagged this statement for this class (empty: squawk did not see it). */
  readonly squawk: readonly string[];
}

/**
 * Every finding of every class in the files one phase runs, in order. A table created earlier
 * in these files (this run) is new: no rows, no traffic, no old pod using it, so statements
 * on it alone are neither long-lock nor breaks-old-pods. Requires `await loadSqlParser()` first.
 */
export function findRisks(pending: readonly MigrationFile[]): RiskFinding[] {
  const fresh = new Set<string>();
  return pending.flatMap((file) => {
    const statements = reviewedStatements(file);
    const squawked = squawkViolations(statements);
    return statements.flatMap((s, index) =>
      fileFindings(
        file,
        s,
        squawked.filter((v) => v.statement === index).map((v) => v.rule),
        fresh,
      ),
    );
  });
}

function fileFindings(file: MigrationFile, s: ReviewedStatement, rules: string[], fresh: Set<string>): RiskFinding[] {
  const [type, body] = Object.entries(s.stmt)[0] ?? [];
  const node = (body ?? {}) as Node;
  const onNew = targets(type, node)?.every((t) => fresh.has(t)) ?? false;
  const kinds: Array<Omit<Kind, "risk"> & { risk: Risk }> = [
    ...destructiveKinds(s.stmt, s.source).map((kind) => ({ risk: "loses-data" as const, kind, advice: LOSES_DATA })),
    ...(onNew ? [] : liveKinds(s.stmt, s.source)),
  ];
  for (const key of created(type, node)) fresh.add(key);
  if (type === "RenameStmt" && onNew && node.renameType === "OBJECT_TABLE") {
    fresh.add(relationKey({ ...(node.relation as Node), relname: node.newname })!);
  }
  const own = new Map<Risk, string[]>();
  for (const rule of rules) {
    const risk = SQUAWK_RULES[rule];
    if (risk && !(onNew && risk !== "loses-data")) own.set(risk, [...(own.get(risk) ?? []), rule]);
  }
  const findings: RiskFinding[] = kinds.map((k) => ({
    file: file.name,
    version: file.version,
    line: s.line,
    risk: k.risk,
    kind: k.kind,
    advice: k.advice,
    statement: s.statement,
    squawk: own.get(k.risk) ?? [],
  }));
  // What squawk sees and our classifier does not: its own finding.
  for (const [risk, rulesOfRisk] of own) {
    const found = rulesOfRisk.filter((rule) => !SQUAWK_CONFIRMS_ONLY.has(rule));
    if (found.length === 0 || kinds.some((k) => k.risk === risk)) continue;
    findings.push({
      file: file.name,
      version: file.version,
      line: s.line,
      risk,
      kind: `squawk ${found.join(", ")}`,
      advice: `squawk's advice: ${found.map((rule) => `https://squawkhq.com/docs/${rule}`).join(", ")}`,
      statement: s.statement,
      squawk: found,
    });
  }
  return findings;
}

/**
 * Whether the finding is refused: its class needs an acknowledgement in this phase, and
 * neither the stack's key nor the project's review covers the file.
 */
export function isRefused(
  finding: RiskFinding,
  file: MigrationFile,
  acknowledged: Acknowledged,
  phase: Phase,
): boolean {
  return (
    needsAcknowledgement(finding.risk, phase) &&
    !isAcknowledged(file, acknowledged[RISK_CLASSES[finding.risk].field]) &&
    !isProjectReviewed(finding.risk, file)
  );
}

/**
 * Fails with every finding this phase does not accept, one section per class with its own
 * key and commands; returns every finding otherwise.
 */
export function checkRisks(pending: readonly MigrationFile[], acknowledged: Acknowledged, phase: Phase): RiskFinding[] {
  const found = findRisks(pending);
  refuseRisks(found, pending, acknowledged, phase);
  return found;
}

/** checkRisks on findings already made (the plan's), so the files are not classified twice. */
export function refuseRisks(
  found: readonly RiskFinding[],
  pending: readonly MigrationFile[],
  acknowledged: Acknowledged,
  phase: Phase,
): void {
  const byName = new Map(pending.map((f) => [f.name, f]));
  const sections: string[] = [];
  for (const risk of RISKS) {
    const { key, field, words } = RISK_CLASSES[risk];
    const refused = found.filter((d) => d.risk === risk && isRefused(d, byName.get(d.file)!, acknowledged, phase));
    if (refused.length === 0) continue;
    const list = acknowledged[field];
    const files = [...new Set(refused.map((d) => d.file))].map((name) => byName.get(name)!);
    const edited = files.filter((f) => list.some((a) => a.version === f.version));
    sections.push(
      `pending migrations ${words} (${phase} phase):\n` +
        refused.map((d) => `  ${d.file}:${d.line}: ${d.kind}: ${d.statement}\n    instead: ${d.advice}`).join("\n") +
        "\n" +
        (edited.length > 0
          ? `${edited.map((f) => f.name).join(", ")} changed since ${edited.length > 1 ? "they were" : "it was"} ` +
            `acknowledged in ${key} (an acknowledgement names the file's content): review the change, then replace the entry.\n`
          : "") +
        `If this is intended, acknowledge ${files.length > 1 ? "these files" : "this file"} as ${files.length > 1 ? "they are" : "it is"} now in stack config:\n` +
        acknowledgeCommands(key, files, list)
          .map((c) => `  ${c}`)
          .join("\n"),
    );
  }
  if (sections.length > 0) throw new MigrationSqlError(sections.join("\n\n"));
}
