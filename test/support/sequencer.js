/**
 * The order jest starts test files in (jest.config.js). The three end-to-end scenario files
 * are chains of `pulumi up`s that depend on each other and bound the whole run (docs/performance.md,
 * "Where the time goes"): they start first. Then every file that takes 18 s or more on a warm
 * run, about longest first, so that none starts near the end and leaves cores idle while it runs
 * alone. Everything else keeps jest's own order (slowest first from its timing cache, else
 * largest first): on a fresh clone, or after a file run alone failed fast, that cache would
 * start long files late.
 */
const Sequencer = require("@jest/test-sequencer").default;

const FIRST = [
  // The workflows run by act (a job each is a fresh clone and npm ci): the longest chains.
  "e2e/workflows-deploy",
  "e2e/workflows-preview",
  "e2e/workflows-failure",
  "e2e/workflows-checks",
  "e2e/promotion",
  "e2e/gate",
  "e2e/production",
  // Six ups and previews in a chain, two waiting out a failed rollout (about 100 s).
  "e2e/rollout",
  // Seven ups and previews in a chain, one waiting out a failed rollout twice (about 90 s).
  "e2e/expandContract",
  "integration/destructiveAck",
  "integration/schema",
  "e2e/chart",
  "integration/compiled",
  "e2e/testbed",
  "e2e/compiled",
  "integration/databaseTls",
  "integration/migrationGuard",
  "integration/migrationNames",
  "integration/atlasSum",
  "integration/migrationSession",
  "integration/migrationJob",
];
const rank = (test) => {
  const i = FIRST.findIndex((name) => test.path.endsWith(`/test/${name}.test.ts`));
  return i === -1 ? FIRST.length : i;
};

class LongestChainsFirst extends Sequencer {
  async sort(tests) {
    const jestOrder = await super.sort(tests);
    return [...jestOrder].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = LongestChainsFirst;
