// Preloaded through NODE_OPTIONS by test/e2e/compiled.test.ts into every Node process a
// `pulumi` command starts: at exit, each writes the files it loaded (require.cache) to
// $LOADED_MODULES_DIR/<pid>.json.
const fs = require("fs");
const path = require("path");

process.on("exit", () => {
  const files = Object.keys(require.cache);
  fs.writeFileSync(path.join(process.env.LOADED_MODULES_DIR, `${process.pid}.json`), JSON.stringify(files));
});
