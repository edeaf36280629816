import * as pulumi from "@pulumi/pulumi";

/**
 * A Pulumi program (run by TestStack in place of index.ts, compiled) with a bug where
 * runtime/userError.ts cannot catch it: inside an apply, after the program's main function has
 * returned. The SDK's own handler reports it.
 */
export const failed = pulumi.output("x").apply((): string => {
  throw new TypeError("a bug inside an apply");
});
