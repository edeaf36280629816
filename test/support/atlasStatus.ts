import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run } from "../../testbed/run";
import { atlasBinary } from "./atlasJob";

/**
 * `atlas migrate status` against a URL: read-only, so it shows whether the real Atlas (its
 * lib/pq) can parse the URL and connect. The URL is on argv: test credentials only.
 */
export async function atlasMigrateStatus(url: string, dir: string): Promise<{ ok: boolean; output: string }> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "atlas-home-"));
  try {
    const env = { PATH: process.env.PATH ?? "", HOME: home, ATLAS_NO_UPDATE_NOTIFIER: "1" };
    const result = await run(atlasBinary(), ["migrate", "status", "--url", url, "--dir", `file://${dir}`], env);
    return { ok: result.code === 0, output: result.output };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}
