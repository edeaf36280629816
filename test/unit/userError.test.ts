import { spawnSync } from "child_process";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../lib/settings";
import { userError } from "../../lib/userError";

const frames = /\n\s+at /;

test("an error the user can fix stops the program with its message alone, and no stack frames", () => {
  const stopped = userError(new ConfigError("replicas", "must be a whole number"));
  expect(pulumi.RunError.isInstance(stopped)).toBe(true);
  expect(stopped.message).toBe("config replicas: must be a whole number");
  expect(stopped.stack).not.toMatch(frames);
});

test("any other error keeps its stack trace in the message, so a bug still says where it is", () => {
  const bug = new TypeError("cannot read properties of undefined");
  const stopped = userError(bug);
  expect(pulumi.RunError.isInstance(stopped)).toBe(true);
  expect(stopped.message).toBe(bug.stack);
  expect(stopped.message).toMatch(frames);
  expect(stopped.stack).toBe(`Error: ${bug.stack}`);
  expect(userError("thrown text").message).toBe("thrown text");
});

/**
 * What Pulumi does with the error the program throws: its uncaught-error handler formats it
 * with util.inspect in colour (@pulumi/pulumi/cmd/run/error.js). On this Node, a stack frame
 * that names a file directly under a scoped package (what Pulumi's source maps produce:
 * node_modules/@pulumi/resource.ts) makes that loop while memory lasts (nodejs/node#64011).
 * The errors are raised inside such a frame (a function whose source URL is that path), in a
 * process with a 64 MB heap: it must print the message, not run out of memory.
 */
test("Pulumi's handler formats what the program throws without running out of memory", () => {
  const probe = `
    const { userError } = require("./lib/userError");
    const { ConfigError } = require("./lib/settings");
    const { defaultErrorMessage } = require("@pulumi/pulumi/cmd/run/error");
    const inPulumiFrame = new Function("f", "return f();\\n//# sourceURL=/app/node_modules/@pulumi/resource.ts");
    for (const cause of [new ConfigError("replicas", "must be a whole number"), new TypeError("a bug")]) {
      const stopped = inPulumiFrame(() => userError(cause));
      console.log(defaultErrorMessage(stopped).split("\\n")[0]);
    }
  `;
  const child = spawnSync(
    process.execPath,
    ["--max-old-space-size=64", "-r", "ts-node/register/transpile-only", "-e", probe],
    { cwd: path.join(__dirname, "../.."), encoding: "utf8", timeout: 120_000 },
  );
  expect(child.stderr).not.toMatch(/heap out of memory/);
  expect(child.status).toBe(0);
  expect(child.stdout).toContain("config replicas: must be a whole number");
  expect(child.stdout).toContain("TypeError: a bug");
});
