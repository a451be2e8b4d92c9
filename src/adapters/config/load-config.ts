/**
 * The labeling config from this machine's point of view: its keys are looked up in the process environment and its
 * default concurrency follows the cores here. The parsing itself is core's (core/config/labeling-config.ts).
 */
import os from 'node:os';
import { parseLabelingConfig, type LabelingConfig } from '../../core/config/labeling-config';

export function loadLabelingConfig(value: unknown, source = 'config', env: NodeJS.ProcessEnv = process.env): LabelingConfig {
  return parseLabelingConfig(value, { source, env, cores: os.availableParallelism() });
}
