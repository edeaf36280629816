import { ConfigError } from "../config/source";
import { isLabelValue } from "../config/read";

/**
 * The app.kubernetes.io/instance label, which the Deployment's selector holds: the stack's
 * config; else what this stack recorded; else, for a stack deployed before the label was
 * recorded, the value it has had (a selector cannot change in place); else the stack's name,
 * so two stacks in one namespace never select each other's pods.
 */
export function instanceLabel(input: {
  readonly configured?: string;
  readonly recorded?: string;
  readonly deployedBefore: boolean;
  readonly stack: string;
}): string {
  const { configured, recorded, deployedBefore, stack } = input;
  const chosen = configured ?? recorded ?? (deployedBefore ? LEGACY_INSTANCE : stack);
  if (!isLabelValue(chosen)) {
    throw new ConfigError(
      "instance",
      `the stack name ${JSON.stringify(stack)} is not a label value; set one: pulumi config set instance <name>`,
    );
  }
  return chosen;
}

/** The instance label of every stack deployed before it was recorded: the component's name. */
export const LEGACY_INSTANCE = "developers-italia-api";
