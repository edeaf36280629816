// Stand-in for marocchino/sticky-pull-request-comment on the test bed: the body from `message`
// and/or `path`, checked as the real action checks it, then created, updated in place (found by
// its header marker) or appended to, in the test bed's comment store.
"use strict";
const fs = require("fs");
const path = require("path");
const {
  input,
  booleanInput,
  setOutput,
  fail,
  recordEnvironment,
  eventPayload,
  pullRequestComments,
} = require("./runtime");

const marker = (header) => `<!-- Sticky Pull Request Comment${header} -->`;

function body() {
  const paths = input("path")
    .split("\n")
    .map((p) => p.trim())
    .filter(Boolean);
  const message = input("message");
  if (paths.length === 0) return message;
  // The real action globs; this stand-in takes plain paths (a missing file matches nothing).
  const content = paths
    .map((p) => path.resolve(process.env.GITHUB_WORKSPACE, p))
    .filter((p) => fs.existsSync(p) && fs.statSync(p).isFile())
    .map((p) => fs.readFileSync(p, "utf8"))
    .join("\n");
  return message ? message.replace("{{{content}}}", content) : content;
}

function main() {
  recordEnvironment("marocchino/sticky-pull-request-comment");
  const number = Number(input("number_force")) || eventPayload().pull_request?.number || Number(input("number"));
  if (Number.isNaN(number) || !(number >= 1)) {
    console.log("no pull request numbers given: skip step");
    return;
  }
  const header = input("header");
  const modes = ["delete", "recreate", "only_create", "only_update", "hide", "hide_and_recreate"];
  const on = modes.filter((m) => booleanInput(m, { required: true }));
  if (on.length > 1) {
    throw new Error(
      `${on.slice(0, -1).join(", ")}${on.length > 2 ? "," : ""} and ${on[on.length - 1]} cannot be set to true simultaneously`,
    );
  }
  for (const b of ["append", "hide_details", "skip_unchanged", "ignore_empty", "follow_symbolic_links"])
    booleanInput(b, { required: true });
  input("GITHUB_TOKEN", { required: true });
  const text = body();
  if (!text && booleanInput("ignore_empty")) {
    console.log("no body given: skip step by ignoreEmpty");
    return;
  }
  if (!text && !on.includes("delete") && !on.includes("hide"))
    throw new Error("Either message or path input is required");

  const owner = input("owner") || process.env.GITHUB_REPOSITORY.split("/")[0];
  const repo = input("repo") || process.env.GITHUB_REPOSITORY.split("/")[1];
  const comments = pullRequestComments(`${owner}/${repo}`, number);
  const previous = comments.list.find((c) => c.author === "github-actions[bot]" && c.body.includes(marker(header)));
  setOutput("previous_comment_id", previous ? previous.id : "");
  const full = `${text}\n${marker(header)}`;
  if (!previous) {
    if (on.includes("only_update") || on.includes("hide") || on.includes("delete")) return;
    setOutput("created_comment_id", comments.create(full));
    return;
  }
  if (on.includes("only_create")) return;
  if (on.includes("delete")) return comments.remove(previous.id);
  if (on.includes("hide")) return; // minimizing is not kept by the store
  if (booleanInput("skip_unchanged") && previous.body === full) return;
  if (on.includes("recreate") || on.includes("hide_and_recreate")) {
    if (on.includes("recreate")) comments.remove(previous.id);
    setOutput("created_comment_id", comments.create(full));
    return;
  }
  const old = previous.body.replace(`\n${marker(header)}`, "");
  comments.update(previous.id, booleanInput("append") ? `${old}\n${full}` : full);
}

try {
  main();
} catch (err) {
  fail(err.message);
}
