import { execFileSync } from "child_process";
import * as path from "path";

/**
 * A preview without pending migrations must not pay for the SQL parser (WebAssembly) or the
 * PostgreSQL driver: importing the program's modules loads neither; they load on first use.
 */
test("the program's modules import neither libpg-query nor pg until they are used", () => {
  const root = path.join(__dirname, "../..");
  const probe = `
    const loaded = () => Object.keys(require.cache).map((k) => k.replace(/.*node_modules\\//, ""))
      .filter((k) => k.startsWith("libpg-query/") || k.startsWith("pg/")).map((k) => k.split("/")[0]);
    require("./lib/destructiveGuard"); require("./lib/databaseState"); require("./lib/preflight");
    require("./lib/userError"); require("./components/developersItaliaApi");
    const before = [...new Set(loaded())];
    require("./lib/destructiveGuard").loadSqlParser().then(() => {
      console.log(JSON.stringify({ before, after: [...new Set(loaded())] }));
    });
  `;
  const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", probe], {
    cwd: root,
    encoding: "utf8",
  });
  expect(JSON.parse(out)).toEqual({ before: [], after: ["libpg-query"] });
});
