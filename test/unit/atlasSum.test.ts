import {
  computeHashFile,
  firstSumDrift,
  formatHashFile,
  isSumIgnored,
  parseHashFile,
  SumFileError,
} from "../../lib/migration/atlasSum";

const file = (name: string, text: string) => ({ name, bytes: Buffer.from(text) });

describe("atlas.sum", () => {
  // The known vector of italia/developers-italia-api#312 (atlas-and-pulumi.md §2): its total
  // is sha256 over the file line, which parseHashFile recomputes.
  const knownVector =
    "h1:UOnRJ6KiurfK8YJXM76FdFTPGX/djDsgSegiQymTfLY=\n" +
    "20231001000000_initial_schema.sql h1:fEkKT+qC/d6Z0seD6KrWSnLjsurv4L6iM7Bm9e5e08g=\n";

  it("accepts the known vector's total", () => {
    const parsed = parseHashFile(knownVector);
    expect(parsed.total).toBe("UOnRJ6KiurfK8YJXM76FdFTPGX/djDsgSegiQymTfLY=");
    expect(parsed.entries).toEqual([
      { name: "20231001000000_initial_schema.sql", hash: "fEkKT+qC/d6Z0seD6KrWSnLjsurv4L6iM7Bm9e5e08g=" },
    ]);
    expect(formatHashFile(parsed)).toBe(knownVector);
  });

  it("rejects a hand-edited total, naming line 1", () => {
    expect(() => parseHashFile(knownVector.replace("UOnR", "XOnR"))).toThrow(/atlas.sum:1: the total does not match/);
  });

  it("reads a CRLF atlas.sum as Atlas does (bufio.Scanner drops the CR)", () => {
    const crlf = knownVector.replace(/\n/g, "\r\n");
    expect(parseHashFile(crlf)).toEqual(parseHashFile(knownVector));
    expect(parseHashFile(crlf.slice(0, -2))).toEqual(parseHashFile(knownVector));
    // One CR only: a second one is part of the hash.
    expect(() => parseHashFile(knownVector.replace(/\n/g, "\r\r\n"))).toThrow(/atlas.sum:1: the total does not match/);
  });

  it("trims names as Go's strings.TrimSpace does: U+0085 yes, U+FEFF no", () => {
    const [total, line] = knownVector.split("\n");
    expect(parseHashFile(`${total}\n\u0085 ${line}\n`).entries[0].name).toBe("20231001000000_initial_schema.sql");
    expect(() => parseHashFile(`${total}\n\uFEFF${line}\n`)).toThrow(/atlas.sum:1: the total does not match/);
  });

  it("rejects a malformed line, naming it", () => {
    expect(() => parseHashFile(`h1:x\nbroken line\n`)).toThrow(SumFileError);
    expect(() => parseHashFile(`h1:x\nbroken line\n`)).toThrow(/atlas.sum:2: expected/);
  });

  it("hashes cumulatively: each file's hash covers every name and file before it", () => {
    const a = computeHashFile([file("1_a.sql", "A"), file("2_b.sql", "B")]);
    const b = computeHashFile([file("1_a.sql", "A2"), file("2_b.sql", "B")]);
    expect(a.entries[1].hash).not.toBe(b.entries[1].hash);
    expect(a.entries[0].hash).not.toBe(b.entries[0].hash);
  });

  it("sorts by bytes, as Go does, not by locale", () => {
    const h = computeHashFile([file("b.sql", ""), file("B.sql", ""), file("a.sql", "")]);
    expect(h.entries.map((e) => e.name)).toEqual(["B.sql", "a.sql", "b.sql"]);
  });

  // Atlas 1.2.3's reDirective, `^([ -~]*)atlas:(\w+)(?: +(.+))*` on the whole file, wants the
  // rest of the first line to be exactly "ignore" (test/integration/atlasSumRules.test.ts
  // runs these and more through Atlas 1.2.3's library).
  it.each([
    ["-- atlas:sum ignore\nSELECT 1;", true],
    ["--atlas:sum ignore", true],
    ["-- atlas:sum  ignore\n", true], // the spaces are ` +`
    ["SELECT 1; -- atlas:sum ignore\n", true], // any printable-ASCII prefix
    ["-- atlas:txmode none atlas:sum ignore\n", true], // the prefix is greedy: the last atlas: counts
    ["-- atlas:sum ignore ", false], // Atlas compares the rest of the line exactly
    ["\n-- atlas:sum ignore", false], // only the first line counts
    ["-- atlas:txmode none\n-- atlas:sum ignore", false],
    ["-- atlas:sumx ignore", false],
    ["-- atlas:sum\tignore\n", false],
    ["\uFEFF-- atlas:sum ignore\n", false], // a BOM is not printable ASCII
    // Not ignored by Atlas 1.2.3 (`.+` takes them), ignored by 0.13.1 (`[ -~]*` stops before them):
    ["-- atlas:sum ignore\r\nSELECT 1;\r\n", false],
    ["-- atlas:sum ignore\r", false],
    ["-- atlas:sum ignore\t\n", false],
    ["-- atlas:sum ignoreé\n", false],
    ["-- atlas:sum ignore\u0000\n", false],
  ])("directive %j → ignored=%s", (text, ignored) => {
    expect(isSumIgnored(Buffer.from(text))).toBe(ignored);
  });

  it("reads the directive on bytes: invalid UTF-8 after `ignore` is part of the line, as in Go", () => {
    expect(isSumIgnored(Buffer.concat([Buffer.from("-- atlas:sum ignore"), Buffer.from([0xff, 0x0a])]))).toBe(false);
  });

  it("gives a CRLF `-- atlas:sum ignore` file its line, as Atlas 1.2.3 does", () => {
    const hashed = computeHashFile([file("1_a.sql", "-- atlas:sum ignore\r\nSELECT 1;\r\n")]);
    expect(hashed.entries.map((e) => e.name)).toEqual(["1_a.sql"]);
  });

  it("gives an ignored file no line but still feeds its name", () => {
    const with_ = computeHashFile([
      file("1_a.sql", "A"),
      file("2_i.sql", "-- atlas:sum ignore\nx"),
      file("3_c.sql", "C"),
    ]);
    const without = computeHashFile([file("1_a.sql", "A"), file("3_c.sql", "C")]);
    expect(with_.entries.map((e) => e.name)).toEqual(["1_a.sql", "3_c.sql"]);
    expect(with_.entries[1].hash).not.toBe(without.entries[1].hash);
  });

  describe("firstSumDrift", () => {
    const base = computeHashFile([file("1_a.sql", "A"), file("2_b.sql", "B"), file("3_c.sql", "C")]);
    it.each([
      [
        "edited",
        [file("1_a.sql", "A"), file("2_b.sql", "B!"), file("3_c.sql", "C")],
        { reason: "edited", file: "2_b.sql", line: 3 },
      ],
      [
        "added",
        [file("1_a.sql", "A"), file("2_b.sql", "B"), file("25_x.sql", "X"), file("3_c.sql", "C")],
        { reason: "added", file: "25_x.sql", line: 3 },
      ],
      ["removed", [file("1_a.sql", "A"), file("3_c.sql", "C")], { reason: "removed", file: "2_b.sql", line: 3 }],
      [
        "appended",
        [file("1_a.sql", "A"), file("2_b.sql", "B"), file("3_c.sql", "C"), file("4_d.sql", "D")],
        { reason: "added", file: "4_d.sql", line: 5 },
      ],
    ])("%s", (_, files, drift) => {
      expect(firstSumDrift(base, computeHashFile(files))).toEqual(drift);
    });
    // Atlas 1.2.3's Validate walks the recorded lines and asks "removed" before "added".
    it("names a renamed file as removed, as Atlas does", () => {
      const renamed = computeHashFile([file("1_a.sql", "A"), file("2_bb.sql", "B"), file("3_c.sql", "C")]);
      expect(firstSumDrift(base, renamed)).toEqual({ reason: "removed", file: "2_b.sql", line: 3 });
    });
    it("names the directory's file as added when a recorded line is out of place, as Atlas does", () => {
      const swapped = { ...base, entries: [base.entries[1], base.entries[0], base.entries[2]] };
      expect(firstSumDrift(swapped, base)).toEqual({ reason: "added", file: "1_a.sql", line: 2 });
    });
    it("names a file listed twice (where Atlas 1.2.3 panics)", () => {
      const twice = { ...base, entries: [...base.entries, base.entries[0]] };
      expect(firstSumDrift(twice, base)).toEqual({ reason: "duplicate", file: "1_a.sql", line: 5 });
    });
    it("is undefined when nothing changed", () => {
      expect(firstSumDrift(base, base)).toBeUndefined();
    });
  });
});
