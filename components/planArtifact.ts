import * as pulumi from "@pulumi/pulumi";
import { MigrationDir } from "../lib/migrationDir";
import { buildPlanReport, guardFindings, PlanReport, writePlanFile } from "../lib/planReport";
import type { RunPlan } from "../lib/preflight";
import { checkPromotion, describePromotion, refuseUntried } from "../lib/promotion";
import type { Settings } from "../lib/settings";
import { readPromotionSource } from "./promotionSource";

/**
 * The plan as data (MIGRATION_PLAN_FILE and the migrationPlan output), written before any
 * refusal so that a refused preview still shows reviewers why; then the promotion check, which
 * refuses `up` only.
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
    // A preview shows what is pending promotion (staging applies it on merge); only `up` refuses.
    if (!pulumi.runtime.isDryRun()) refuseUntried(promotion);
  }
  return report;
}
