// Stand-in for actions/cache: $TESTBED_ACTIONS_CACHE/<key>/<n>/ holds the n-th path. The main
// step restores (exact key, else the newest entry whose key starts with a restore key); the
// post step saves when there was no exact hit.
"use strict";
const fs = require("fs");
const path = require("path");
const { input, booleanInput, setOutput, fail, recordEnvironment } = require("./runtime");

/**
 * A tree copied as hard links (symbolic links kept as they are), so that a large cache costs no
 * space; a destination file that already is the same file is left alone.
 */
function linkTree(from, to) {
  const stat = fs.lstatSync(from);
  if (stat.isSymbolicLink()) {
    if (fs.existsSync(to) || isLink(to)) fs.rmSync(to, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.symlinkSync(fs.readlinkSync(from), to);
  } else if (stat.isDirectory()) {
    fs.mkdirSync(to, { recursive: true });
    for (const entry of fs.readdirSync(from)) linkTree(path.join(from, entry), path.join(to, entry));
  } else {
    if (fs.existsSync(to) && fs.statSync(to).ino === stat.ino) return;
    fs.rmSync(to, { force: true });
    fs.mkdirSync(path.dirname(to), { recursive: true });
    try {
      fs.linkSync(from, to);
    } catch {
      fs.copyFileSync(from, to);
    }
  }
}

function isLink(p) {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

const expand = (p) => path.resolve(process.env.GITHUB_WORKSPACE, p.replace(/^~(?=\/|$)/, process.env.HOME));

function main() {
  recordEnvironment("actions/cache");
  const paths = input("path", { required: true })
    .split("\n")
    .map((p) => p.trim())
    .filter(Boolean)
    .map(expand);
  const key = input("key", { required: true });
  const store = process.env.TESTBED_ACTIONS_CACHE;
  if (!store) throw new Error("TESTBED_ACTIONS_CACHE is not set: this stand-in runs only on the test bed");
  const post = process.env.STATE_cache_key !== undefined;
  if (post) {
    if (process.env.STATE_cache_hit === "true")
      return console.log(`Cache hit occurred on the primary key ${key}, not saving cache.`);
    const dest = path.join(store, key);
    if (fs.existsSync(dest)) return;
    paths.forEach((p, i) => fs.existsSync(p) && linkTree(p, path.join(dest, String(i))));
    return console.log(`Cache saved with key: ${key}`);
  }
  fs.appendFileSync(process.env.GITHUB_STATE, `cache_key=${key}\n`);
  const restoreKeys = input("restore-keys")
    .split("\n")
    .map((k) => k.trim())
    .filter(Boolean);
  const entries = fs.existsSync(store) ? fs.readdirSync(store) : [];
  const newest = (prefix) =>
    entries
      .filter((e) => e.startsWith(prefix))
      .sort((a, b) => fs.statSync(path.join(store, b)).mtimeMs - fs.statSync(path.join(store, a)).mtimeMs)[0];
  const matched = entries.includes(key) ? key : restoreKeys.map(newest).find(Boolean);
  if (!matched) {
    if (booleanInput("fail-on-cache-miss"))
      throw new Error(`Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: ${key}`);
    setOutput("cache-hit", "false");
    return console.log(`Cache not found for input keys: ${[key, ...restoreKeys].join(", ")}`);
  }
  if (!booleanInput("lookup-only")) {
    paths.forEach((p, i) => {
      const saved = path.join(store, matched, String(i));
      if (fs.existsSync(saved)) linkTree(saved, p);
    });
  }
  fs.appendFileSync(process.env.GITHUB_STATE, `cache_hit=${matched === key}\n`);
  setOutput("cache-hit", String(matched === key));
  console.log(`Cache restored from key: ${matched}`);
}

try {
  main();
} catch (err) {
  fail(err.message);
}
