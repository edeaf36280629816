import * as pulumi from "@pulumi/pulumi";
import type { DeployPlan } from "../lib/deploy/plan";
import { writePlanFile } from "../lib/deploy/report";
import { describePlan } from "../lib/migration/preflight";
import { describePromotion, refuseUntried } from "../lib/migration/promotion";
import { refuseRisks } from "../lib/migration/risk";
import type { ApiSpec } from "../lib/spec";

/**
 * The plan where reviewers and workflows read it (MIGRATION_PLAN_FILE, the preview's log),
 * written before any refusal so that a refused preview still shows why; then the refusals:
 * a migration the promoteFrom stack has not applied (`up` only), a statement of a risk class
 * (lib/migration/risk.ts) that its key does not acknowledge.
 */
export function publishPlan(spec: ApiSpec, deploy: DeployPlan): void {
  writePlanFile(deploy.report);
  if (deploy.promotion) {
    void pulumi.log.info(describePromotion(deploy.promotion));
    // A preview shows what is pending promotion (staging applies it on merge); only `up` refuses.
    if (!pulumi.runtime.isDryRun()) refuseUntried(deploy.promotion);
  }
  refuseRisks(deploy.findings, deploy.run.pending, spec.migration, "expand");
  if (deploy.contract) {
    refuseRisks(deploy.contract.findings, deploy.contract.run.pending, spec.migration, "contract");
  }
  void pulumi.log.info(describePlan(deploy.run, deploy.migration.key));
  if (deploy.contract)
    void pulumi.log.info(describePlan(deploy.contract.run, deploy.contract.migration.key, "contract"));
}
