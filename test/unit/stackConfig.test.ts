import * as pulumi from "@pulumi/pulumi";
import { lastApplied, selfStackName } from "../../stack/config";

/** The stack reads its own outputs by the name the backend knows: organization/project/stack. */

const references: string[] = [];
const records = [
  { version: "20250909000000", file: "20250909000000_initial_schema.sql", sha256: "a".repeat(64) },
  { version: "20260612000000", file: "20260612000000_log_entity_index.sql", sha256: "b".repeat(64) },
];
async function mockEngine(organization: string) {
  references.length = 0;
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type !== "pulumi:pulumi:StackReference") return { id: args.name, state: args.inputs };
        references.push(args.inputs.name as string);
        return {
          id: args.inputs.name as string,
          state: {
            name: args.inputs.name,
            outputs: {
              appliedVersion: "20260612000000",
              appliedMigrations: records,
              appliedDatabase: "0123456789abcdef",
              appliedDatabaseUrlDigest: "d1",
              deploymentName: "developers-italia-api-1a2b3c4d",
              instance: "prod",
              migrationKey: "3f0c1d2e3f405162",
            },
            secretOutputNames: ["appliedDatabaseUrlDigest"],
          },
        };
      },
      call: (args) => args.inputs,
    },
    "developers-italia-api",
    "prod",
    false,
    organization,
  );
}

describe("the stack's reference to itself", () => {
  it.each(["acme-platform", "organization"])("follows the organization the engine reports (%s)", async (org) => {
    await mockEngine(org);
    expect(selfStackName()).toBe(`${org}/developers-italia-api/prod`);
    const record = await lastApplied();
    expect(references).toEqual([`${org}/developers-italia-api/prod`]);
    expect(record).toEqual({
      version: "20260612000000",
      migrations: ["20250909000000", "20260612000000"],
      migrationRecords: records,
      databaseIdentity: "0123456789abcdef",
      databaseUrlDigest: "d1",
      instance: "prod",
      deployed: true,
      migrationKey: "3f0c1d2e3f405162",
      // No contract outputs in this state: nothing recorded for that phase.
      contract: {},
    });
  });
});
