import * as pulumi from "@pulumi/pulumi";
import { promotionSource, PromotionSource } from "../lib/migration/promotion";
import { ConfigError } from "../lib/config/source";

/** `staging` becomes `<this organization>/<this project>/staging`; a full name is kept. */
export function qualifiedStackName(name: string, organization: string, project: string): string {
  const parts = name.split("/");
  if (parts.length === 3) return name;
  if (parts.length === 2) return `${organization}/${name}`;
  return `${organization}/${project}/${name}`;
}

/**
 * What the stack named in promoteFrom applied successfully, read from its outputs
 * (a StackReference: the reader needs read access to that stack's state, nothing more).
 */
export async function readPromotionSource(name: string): Promise<PromotionSource> {
  const self = pulumi.getStack();
  const full = name === self ? name : qualifiedStackName(name, pulumi.getOrganization(), pulumi.getProject());
  if (name === self || full === qualifiedStackName(self, pulumi.getOrganization(), pulumi.getProject())) {
    throw new ConfigError(
      "promoteFrom",
      `names this stack (${self}); name the stack that deploys before it, e.g. staging`,
    );
  }
  let values: unknown[];
  try {
    const source = new pulumi.StackReference(`promote-from-${name.replace(/\//g, "-")}`, { name: full });
    values = await Promise.all(
      ["appliedMigrations", "appliedContractMigrations"].map(async (output) => {
        const details = await source.getOutputDetails(output);
        return details.value ?? details.secretValue;
      }),
    );
  } catch (err) {
    throw new ConfigError(
      "promoteFrom",
      `cannot read the outputs of stack ${full}: ${(err as Error).message}; ` +
        "check the name and that this deploy may read that stack's state",
    );
  }
  return promotionSource(name, values[0], values[1]);
}
