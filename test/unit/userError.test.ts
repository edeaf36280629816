import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../../lib/config/source";
import { userError } from "../../runtime/userError";

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
