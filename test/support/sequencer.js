/**
 * The order jest starts test files in (jest.config.js). The three end-to-end scenario files
 * are chains of `pulumi up`s that depend on each other and bound the whole run (README,
 * "Where the time goes"): they start first, then the longest integration files. Everything
 * else keeps jest's own order (slowest first from its timing cache, else largest first),
 * which on a fresh clone would start them late.
 */
const Sequencer = require("@jest/test-sequencer").default;

const FIRST = [
  "e2e/promotion",
  "e2e/gate",
  "e2e/production",
  "integration/destructiveAck",
  "integration/schema",
  "e2e/chart",
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
