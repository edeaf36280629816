/**
 * What this machine charges for memory a process touches for the first time: the fixed cost
 * behind every short process of the test run (docs/performance.md).
 *
 *   bash scripts/node.sh bench/pagefaults.ts
 *
 * Allocates 256 MiB (zero pages, mapped lazily), writes one byte per 4 KiB page, then writes
 * them again: the first pass pays one page fault per page, the second none.
 */
const SIZE = 256 << 20;
const PAGE = 4096;
const PAGES = SIZE / PAGE;

function touch(bytes: Uint8Array, value: number): { usPerPage: number; faults: number } {
  const faultsBefore = process.resourceUsage().minorPageFault;
  const start = process.hrtime.bigint();
  for (let i = 0; i < bytes.length; i += PAGE) bytes[i] = value;
  const ns = Number(process.hrtime.bigint() - start);
  return { usPerPage: ns / 1e3 / PAGES, faults: process.resourceUsage().minorPageFault - faultsBefore };
}

const bytes = new Uint8Array(SIZE);
const first = touch(bytes, 1);
const again = touch(bytes, 2);
console.log(
  `first touch: ${first.usPerPage.toFixed(2)} µs per 4 KiB page (${first.faults} page faults, ${PAGES} pages)`,
);
console.log(`again:       ${again.usPerPage.toFixed(3)} µs per page (${again.faults} page faults)`);
