/** Three suites: unit (pure logic and Pulumi mocks), integration (real PostgreSQL and
 * Atlas), e2e (the real Pulumi engine against the local cluster). scripts/test.sh starts
 * what the last two need. */
const common = {
  preset: "ts-jest",
  testEnvironment: "node",
};
module.exports = {
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    { ...common, displayName: "integration", testMatch: ["<rootDir>/test/integration/**/*.test.ts"] },
    { ...common, displayName: "e2e", testMatch: ["<rootDir>/test/e2e/**/*.test.ts"] },
  ],
};
