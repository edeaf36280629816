import { sleepMs } from "../../testbed/executor";

/** The test bed executor's loop: after each list it sleeps until a watch event or this. */
describe("sleepMs", () => {
  const now = 1_000_000;

  test("with no pod waiting on a retry: the resync interval", () => {
    expect(sleepMs([], now, 10_000)).toBe(10_000);
  });

  test("a retry due before the resync: until then", () => {
    expect(sleepMs([now + 2_000, now + 30_000], now, 10_000)).toBe(2_000);
  });

  test("a pod that waits on nothing yet (retryAt never): the resync interval", () => {
    expect(sleepMs([Number.MAX_SAFE_INTEGER], now, 10_000)).toBe(10_000);
  });

  test("a retry already due: 50 ms, never a busy loop", () => {
    expect(sleepMs([now - 5_000], now, 10_000)).toBe(50);
  });
});
