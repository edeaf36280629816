/** Three suites: unit (pure logic and Pulumi mocks), integration (real PostgreSQL and
 * Atlas), e2e (the real Pulumi engine against the local cluster). scripts/test.sh starts
 * what the last two need. */
const common = {
  preset: "ts-jest",
  testEnvironment: "node",
};
/**
 * Today's PostgreSQL majors (scripts/pg-matrix.sh), one project each: integration-pg<major>.
 * They run the suites that talk to a database through Atlas or the drivers; the rest of the
 * integration suite runs on Debian's server. `TESTBED_PG_MAJOR=17 jest --selectProjects
 * integration` runs the whole suite on one of them. The end-to-end suite runs on the newest.
 */
const PG_MATRIX = ["16", "17", "18"];
const DATABASE_SUITES = ["postgresMatrix", "migrationJob", "schema", "migrationSession", "databaseTls"];
const matrix = PG_MATRIX.map((major) => ({
  ...common,
  displayName: `integration-pg${major}`,
  testMatch: DATABASE_SUITES.map((suite) => `<rootDir>/test/integration/${suite}.test.ts`),
  globals: { TESTBED_PG_MAJOR: major },
}));
module.exports = {
  testSequencer: "<rootDir>/test/support/sequencer.js",
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: ["<rootDir>/test/unit/**/*.test.ts"],
      // The SDK's unused modules deferred as in the program (runtime/preload.ts).
      setupFiles: ["<rootDir>/test/support/deferInJest.ts"],
    },
    { ...common, displayName: "integration", testMatch: ["<rootDir>/test/integration/**/*.test.ts"] },
    ...matrix,
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
      globals: { TESTBED_PG_MAJOR: PG_MATRIX[PG_MATRIX.length - 1] },
    },
  ],
};
