import { spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isApiPasetoKey } from "../../lib/config/database";

/**
 * pasetoKey is checked as the API reads PASETO_KEY: Go's base64.StdEncoding.DecodeString and
 * a length of 32 (internal/common/env.go, Base64Key.UnmarshalText). The oracle is that Go
 * call itself, compiled here from the standard library only, on generated candidates.
 */

jest.setTimeout(120_000);

const ORACLE = `package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var text string
		if err := json.Unmarshal(in.Bytes(), &text); err != nil {
			panic(err)
		}
		key, err := base64.StdEncoding.DecodeString(text)
		fmt.Println(err == nil && len(key) == 32)
	}
}
`;

/** Candidates around a valid key: each way Node's decoder is lenient, and the valid forms. */
function candidates(count: number): string[] {
  const out: string[] = [];
  const mutations: Array<(k: string) => string> = [
    (k) => k,
    (k) => k.replace(/=$/, ""),
    (k) => `${k}=`,
    (k) => k.replace(/\+/g, "-").replace(/\//g, "_"),
    (k) => `${k.slice(0, 10)}\n${k.slice(10)}`,
    (k) => `${k.slice(0, 10)}\r\n${k.slice(10)}\n`,
    (k) => ` ${k}`,
    (k) => `${k.slice(0, 20)} ${k.slice(20)}`,
    (k) => `${k.slice(0, 5)}*${k.slice(6)}`,
    (k) => `${k.slice(0, 42)}${"BCDEFGHIJKLMNOP"[k.length % 15]}=`, // non-zero trailing bits
    (k) => k.slice(0, 40),
    (k) => `${k}AAAA`,
    (k) => `${k.slice(0, 43)}.`,
    (k) => `${k}\t`,
  ];
  for (let i = 0; i < count; i++) {
    const size = i % 5 === 0 ? [31, 33, 0, 24, 48][(i / 5) % 5] : 32;
    const key = randomBytes(size).toString("base64");
    out.push(mutations[i % mutations.length](key));
  }
  return out;
}

describe("pasetoKey, as the API decodes it", () => {
  it("agrees with Go's base64.StdEncoding and the 32-byte check on 3,000 generated keys", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paseto-oracle-"));
    try {
      fs.writeFileSync(path.join(dir, "main.go"), ORACLE);
      const inputs = candidates(3000);
      const res = spawnSync("go", ["run", "main.go"], {
        cwd: dir,
        input: inputs.map((k) => JSON.stringify(k)).join("\n") + "\n",
        env: { ...process.env, GO111MODULE: "off", GOTOOLCHAIN: "local", GOFLAGS: "" },
        encoding: "utf8",
        maxBuffer: 1 << 24,
      });
      expect(res.stderr).toBe("");
      expect(res.status).toBe(0);
      const go = res.stdout.trim().split("\n");
      expect(go).toHaveLength(inputs.length);
      const disagreements = inputs.filter((k, i) => isApiPasetoKey(k) !== (go[i] === "true"));
      expect(disagreements).toEqual([]);
      // Both answers occur, so the comparison means something.
      expect(new Set(go)).toEqual(new Set(["true", "false"]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
