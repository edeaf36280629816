import { createHash } from "crypto";
import { qualifiedStackName } from "../../stack/promotionSource";
import {
  appliedMigrations,
  checkPromotion,
  describePromotion,
  parseAppliedMigrations,
  PromotionError,
  refuseUntried,
} from "../../lib/migration/promotion";
import { migrationFile } from "../support/migrationFiles";

const v1 = migrationFile("20250909000000", "CREATE TABLE a (id text);\n", "initial");
const v2 = migrationFile("20260410000000", "ALTER TABLE a ADD COLUMN b text;\n", "add_b");
const v3 = migrationFile("20270101000000", "CREATE INDEX ON a (b);\n", "index_b");
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("appliedMigrations", () => {
  it("lists every file with the sha256 of its bytes", () => {
    expect(appliedMigrations([v1, v2])).toEqual([
      { version: "20250909000000", file: "20250909000000_initial.sql", sha256: sha(v1.text) },
      { version: "20260410000000", file: "20260410000000_add_b.sql", sha256: sha(v2.text) },
    ]);
  });
});

describe("checkPromotion", () => {
  const staging = { stack: "staging", applied: appliedMigrations([v1, v2]) };

  it("passes pending files the source stack applied with the same content", () => {
    const check = checkPromotion([v2], staging);
    expect(check).toEqual({
      from: "staging",
      sourceAppliedVersion: "20260410000000",
      sourceAppliedCount: 2,
      tried: ["20260410000000"],
      untried: [],
    });
    expect(() => refuseUntried(check)).not.toThrow();
  });

  it("refuses a pending file the source stack has not applied, naming it and what to do", () => {
    const check = checkPromotion([v2, v3], staging);
    expect(check.tried).toEqual(["20260410000000"]);
    expect(check.untried).toEqual([
      { version: "20270101000000", file: "20270101000000_index_b.sql", reason: "stack staging has not applied it" },
    ]);
    expect(() => refuseUntried(check)).toThrow(PromotionError);
    expect(() => refuseUntried(check)).toThrow(
      "config promoteFrom: 1 pending migration(s) were not applied successfully by stack staging:\n" +
        "  20270101000000_index_b.sql: stack staging has not applied it\n" +
        "Deploy this commit to staging first (its migration Job must succeed), then preview this stack again; " +
        "to deploy without promotion, remove promoteFrom from this stack's config",
    );
  });

  it("refuses the same version with other content: that migration was not tried", () => {
    const edited = migrationFile("20260410000000", "ALTER TABLE a DROP COLUMN b;\n", "add_b");
    const [untried] = checkPromotion([edited], staging).untried;
    expect(untried.reason).toBe(
      `stack staging applied 20260410000000_add_b.sql with other content (sha256 ${sha(v2.text).slice(0, 12)}, here ${sha(edited.text).slice(0, 12)})`,
    );
  });

  it("refuses everything when the source stack never completed a run", () => {
    const check = checkPromotion([v1, v2], { stack: "staging" });
    expect(check.sourceAppliedCount).toBe(0);
    expect(check.untried.map((u) => u.reason)).toEqual([
      "stack staging has not completed a migration run yet",
      "stack staging has not completed a migration run yet",
    ]);
  });

  it("nothing pending: nothing to refuse", () => {
    expect(() => refuseUntried(checkPromotion([], { stack: "staging" }))).not.toThrow();
  });
});

describe("describePromotion", () => {
  it("shows what the source applied and which pending files it tried", () => {
    const check = checkPromotion([v2, v3], { stack: "staging", applied: appliedMigrations([v1, v2]) });
    expect(describePromotion(check)).toBe(
      [
        "Promotion from stack staging:",
        "  staging applied 2 migration(s), newest 20260410000000",
        "    20260410000000  applied by staging",
        "    20270101000000  NOT TRIED: stack staging has not applied it",
      ].join("\n"),
    );
  });
});

describe("parseAppliedMigrations", () => {
  it("reads a well-formed output and drops unknown fields", () => {
    expect(parseAppliedMigrations([{ version: "1", file: "1_a.sql", sha256: "ab", extra: true }])).toEqual([
      { version: "1", file: "1_a.sql", sha256: "ab" },
    ]);
  });
  it.each([undefined, null, "20260410000000", [{ version: "1" }], [null]])("treats %p as nothing applied", (value) => {
    expect(parseAppliedMigrations(value)).toBeUndefined();
  });
});

describe("qualifiedStackName", () => {
  it.each([
    ["staging", "acme/developers-italia-api/staging"],
    ["other-project/staging", "acme/other-project/staging"],
    ["org2/p/staging", "org2/p/staging"],
  ])("%s -> %s", (name, full) => {
    expect(qualifiedStackName(name, "acme", "developers-italia-api")).toBe(full);
  });
});
