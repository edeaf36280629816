// What the stand-ins need of the Actions runtime, as the runner hands it to a JavaScript
// action: inputs in INPUT_<NAME>, outputs, PATH and variables through the GITHUB_* files, and a
// failure as an ::error:: command with exit code 1. The harness (test/support/workflows.ts)
// copies this file next to each stand-in's main.js.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

/** An input as @actions/core reads it: INPUT_<NAME, spaces as underscores, upper case>, trimmed. */
function input(name, { required = false } = {}) {
  const value = (process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] || "").trim();
  if (required && !value) throw new Error(`Input required and not supplied: ${name}`);
  return value;
}

/** A boolean input in YAML 1.2's core schema, refused otherwise, as @actions/core refuses it. */
function booleanInput(name, options) {
  const value = input(name, options);
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  throw new TypeError(
    `Input does not meet YAML 1.2 "Core Schema" specification: ${name}\n` +
      "Support boolean input list: `true | True | TRUE | false | False | FALSE`",
  );
}

function appendCommandFile(variable, name, value) {
  const file = process.env[variable];
  if (!file) throw new Error(`${variable} is not set: not run by a workflow runner`);
  const delimiter = `ghadelimiter_${crypto.randomUUID()}`;
  fs.appendFileSync(file, `${name}<<${delimiter}\n${value}\n${delimiter}\n`);
}

const setOutput = (name, value) => appendCommandFile("GITHUB_OUTPUT", name, String(value ?? ""));
const exportVariable = (name, value) => appendCommandFile("GITHUB_ENV", name, String(value));
const addPath = (dir) => fs.appendFileSync(process.env.GITHUB_PATH, `${dir}\n`);

function fail(message) {
  console.log(`::error::${String(message).replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A")}`);
  process.exitCode = 1;
}

/**
 * The names of the variables this action was started with, for the harness to check that no
 * credential reaches a third-party action (the values are never written).
 */
function recordEnvironment(action) {
  const dir = process.env.TESTBED_ACTION_ENV_LOG;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  const record = { action, job: process.env.GITHUB_JOB, names: Object.keys(process.env).sort() };
  fs.writeFileSync(path.join(dir, `${Date.now()}-${process.pid}.json`), JSON.stringify(record));
}

/** The event payload the workflow was started with. */
const eventPayload = () => JSON.parse(fs.readFileSync(process.env.GITHUB_EVENT_PATH, "utf8"));

/**
 * A pull request's comments on the test bed: $TESTBED_PR_COMMENTS/<owner>/<repo>/<number>.json,
 * a list of {id, author, body, created, updated} in the order GitHub lists them. What the real
 * actions would post through the GitHub API, where the harness reads it.
 */
function pullRequestComments(repository, number) {
  const root = process.env.TESTBED_PR_COMMENTS;
  if (!root) throw new Error("TESTBED_PR_COMMENTS is not set: this stand-in runs only on the test bed");
  const file = path.join(root, repository, `${number}.json`);
  const list = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : [];
  const save = () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(list, null, 2)}\n`);
  };
  return {
    list,
    create(body) {
      const id = Math.max(0, ...list.map((c) => c.id)) + 1;
      list.push({
        id,
        author: "github-actions[bot]",
        body,
        created: process.env.GITHUB_RUN_ID,
        updated: process.env.GITHUB_RUN_ID,
      });
      save();
      return id;
    },
    update(id, body) {
      const comment = list.find((c) => c.id === id);
      comment.body = body;
      comment.updated = process.env.GITHUB_RUN_ID;
      save();
    },
    remove(id) {
      list.splice(
        list.findIndex((c) => c.id === id),
        1,
      );
      save();
    },
  };
}

module.exports = {
  input,
  booleanInput,
  setOutput,
  exportVariable,
  addPath,
  fail,
  recordEnvironment,
  eventPayload,
  pullRequestComments,
};
