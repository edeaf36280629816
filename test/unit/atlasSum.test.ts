import {
  computeHashFile,
  firstSumDrift,
  formatHashFile,
  isSumIgnored,
  parseHashFile,
  SumFileError,
} from "../../lib/atlasSum";

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

  it.each([
    ["-- atlas:sum ignore\nSELECT 1;", true],
    ["--atlas:sum ignore", true],
    ["-- atlas:sum ignore ", false], // Atlas compares the rest of the line exactly
    ["\n-- atlas:sum ignore", false], // only the first line counts
    ["-- atlas:txmode none\n-- atlas:sum ignore", false],
    ["-- atlas:sumx ignore", false],
  ])("directive %j → ignored=%s", (text, ignored) => {
    expect(isSumIgnored(Buffer.from(text))).toBe(ignored);
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
    it("is undefined when nothing changed", () => {
      expect(firstSumDrift(base, base)).toBeUndefined();
    });
  });
});
