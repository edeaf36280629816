import * as pulumi from "@pulumi/pulumi";
import { MigrationDir } from "../lib/migration/dir";
import { buildPlanReport, guardFindings, PlanReport, writePlanFile } from "../lib/deploy/report";
import type { RunPlan } from "../lib/migration/preflight";
import { checkPromotion, describePromotion, refuseUntried } from "../lib/migration/promotion";
import type { Settings } from "../lib/config/settings";
import { readPromotionSource } from "./promotionSource";

/**
 * The plan as data (MIGRATION_PLAN_FILE and the migrationPlan output), written before any
 * refusal so that a refused preview still shows reviewers why; then the promotion check.
 * Needs loadSqlParser() first.
 */
export async function publishPlan(
  settings: Settings,
  dir: MigrationDir,
  plan: RunPlan,
  recordedKey?: string,
): Promise<PlanReport> {
  const promotion = settings.promoteFrom
    ? checkPromotion(plan.pending, await readPromotionSource(settings.promoteFrom))
    : undefined;
  const findings = guardFindings(plan.pending, settings.migration.allowDestructive);
  const report = buildPlanReport({
    stack: pulumi.getStack(),
    settings,
    dir,
    plan,
    findings,
    promotion,
    databaseIdentity: plan.databaseIdentity || undefined,
    recordedKey,
  });
  writePlanFile(report);
  if (promotion) {
    void pulumi.log.info(describePromotion(promotion));
    refuseUntried(promotion);
  }
  return report;
}
