import { migrationDatabaseUrl, migrationSessionParameters, MigrationRunInput } from "../../lib/migration/run";

const input: MigrationRunInput = {
  atlasImage: "arigaio/atlas:0.13.1",
  atlasLockTimeout: "10s",
  postgresLockTimeout: "5s",
  deadlineSeconds: 300,
  sumTotal: "t",
};
const params = (url: string) => Object.fromEntries(new URL(url).searchParams);

describe("the migration session's URL", () => {
  it("adds lock_timeout, statement_timeout below the deadline, the connection check and a name", () => {
    expect(migrationSessionParameters({ ...input, deadlineSeconds: 60, postgresLockTimeout: "2s" })).toEqual([
      ["lock_timeout", "2s"],
      ["statement_timeout", "55s"],
      ["client_connection_check_interval", "2s"],
    ]);
    expect(params(migrationDatabaseUrl("postgres://u:p@db:5432/api?sslmode=require", input))).toEqual({
      sslmode: "require",
      lock_timeout: "5s",
      statement_timeout: "295s",
      client_connection_check_interval: "2s",
      application_name: "developers-italia-migration",
    });
  });

  it("keeps the user's URL, its own application_name, and replaces a setting it already had", () => {
    const url = migrationDatabaseUrl(
      "postgres://u:p%40ss@db:5432/api?sslmode=verify-full&application_name=mine&lock_timeout=1h",
      input,
    );
    expect(url.startsWith("postgres://u:p%40ss@db:5432/api?")).toBe(true);
    expect(params(url)).toMatchObject({ sslmode: "verify-full", application_name: "mine", lock_timeout: "5s" });
    expect(migrationDatabaseUrl("postgres://db/api", input)).toMatch(/^postgres:\/\/db\/api\?lock_timeout=5s&/);
  });
});
