export {
  createLocalSceneClassifier,
  defaultSceneModel,
  effectiveMinConfidence,
  LOCAL_SCENE_PROVIDER,
  parseSceneParams,
  type LocalSceneClassifier,
  type LocalSceneOptions,
  type LocalSceneRaw,
} from './local-scene';
export { compileSceneModel, SCENE_PARAMS_FORMAT, SceneModelParamsSchema, type SceneModelParams } from './params';
export { FEATURE_SPEC_VERSION, IMAGE_STAT_NAMES } from './features';
