/** Names of the evaluateBatch orchestration's activities (each registered in its own file). */
export const EVALUATION_ACTIVITIES = {
  plan: 'evaluationPlan',
  matchChunk: 'evaluationMatchChunk',
  report: 'evaluationReport',
  failed: 'evaluationFailed',
} as const;
