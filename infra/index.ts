/**
 * `stepbatch/cdk`: the CDK constructs. `Stepbatch` puts stepbatch in a stack of yours for the
 * pipeline of your `stepbatch.config.ts`; `StepbatchStack` is a stack holding it alone. The parts
 * it is made of are exported too, for apps that compose their own.
 */
export { BatchApi, type BatchApiProps } from "./constructs/batch-api.ts";
export { BatchMonitoring, type BatchMonitoringProps } from "./constructs/batch-monitoring.ts";
export { BatchReconciler, type BatchReconcilerProps } from "./constructs/batch-reconciler.ts";
export { BatchSchedules, type BatchSchedulesProps } from "./constructs/batch-schedules.ts";
export { BatchStorage, type BatchStorageProps } from "./constructs/batch-storage.ts";
export {
  BatchWorkflow,
  type BatchWorkflowProps,
  type PhaseFunctionOptions,
} from "./constructs/batch-workflow.ts";
export { StepbatchFunction, type StepbatchFunctionProps } from "./constructs/stepbatch-function.ts";
export {
  CONFIG_FILES,
  findConfig,
  generateEntry,
  loadPipeline,
  type PipelineSource,
} from "./pipeline.ts";
export { Stepbatch, type StepbatchProps } from "./stepbatch.ts";
export { StepbatchStack, type StepbatchStackProps } from "./stepbatch-stack.ts";
