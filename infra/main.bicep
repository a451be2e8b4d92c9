// Auto-labeling pipeline on Azure: what `azd up` (or `az deployment sub create`) provisions. Subscription scope,
// as azd expects: it creates the resource group, then one module per concern in ./app.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names the resource group and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Primary location for all resources.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Deploy Azure OpenAI (gpt-5.1) and use it as the scene classifier; false keeps the local classifier.')
param deployOpenAi bool = true
@description('Deploy Azure AI Vision and use it as the detector; false keeps the local ONNX detector (YOLOX-Nano).')
param deployVision bool = true

@description('Region of Azure OpenAI, where the model\'s deployment type has quota (default: location).')
param openAiLocation string = ''
@description('A GA vision model with structured outputs. gpt-5.1 2025-11-13: retirement not before 2027-05-15 (gpt-4o and gpt-4.1 retired 2026-10); `az cognitiveservices model list -l <region>` lists what a region offers.')
param openAiModelName string = 'gpt-5.1'
param openAiModelVersion string = '2025-11-13'
@description('The model\'s request rules: reasoning (gpt-5.x, o-series: max_completion_tokens, default temperature) or chat (gpt-4o, gpt-4.1).')
@allowed(['reasoning', 'chat'])
param openAiModelFamily string = 'reasoning'
@allowed(['GlobalStandard', 'DataZoneStandard', 'Standard'])
param openAiDeploymentType string = 'GlobalStandard'
@description('Capacity in thousands of tokens per minute.')
param openAiCapacity int = 30

@description('Region of AI Vision: Image Analysis 4.0 object detection exists in a subset of regions (default: location).')
param visionLocation string = ''
@allowed(['S1', 'F0'])
param visionSku string = 'S1'
@allowed(['4.0', '3.2'])
param visionApi string = '4.0'

@description('Six-field NCRONTAB (UTC) of the nightly report: second minute hour day month day-of-week.')
param nightlySchedule string = '0 0 2 * * *'
@description('Resource id of an Azure Monitor action group the drift alert notifies; empty: no notification.')
param driftActionGroupId string = ''
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID): may upload images and read data; empty for none.')
param principalId string = ''

// Optional name overrides; empty means the default from the resource token.
param resourceGroupName string = ''
param functionAppName string = ''
param storageAccountName string = ''
param cosmosAccountName string = ''
param openAiAccountName string = ''
param visionAccountName string = ''
param applicationInsightsName string = ''
param logAnalyticsName string = ''
param identityName string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = !empty(functionAppName) ? functionAppName : 'func-${resourceToken}'
// Flex Consumption deploys from this container (created with the data containers in storage.bicep).
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'
var systemTopicName = 'evgt-images-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: !empty(identityName) ? identityName : 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: !empty(logAnalyticsName) ? logAnalyticsName : 'log-${resourceToken}'
    applicationInsightsName: !empty(applicationInsightsName) ? applicationInsightsName : 'appi-${resourceToken}'
    location: location
    tags: tags
    driftActionGroupId: driftActionGroupId
  }
}

module cosmos 'app/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: !empty(cosmosAccountName) ? cosmosAccountName : 'cosmos-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module openAi 'app/openai.bicep' = if (deployOpenAi) {
  name: 'openai'
  scope: rg
  params: {
    name: !empty(openAiAccountName) ? openAiAccountName : 'oai-${resourceToken}'
    location: !empty(openAiLocation) ? openAiLocation : location
    tags: tags
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    skuName: openAiDeploymentType
    capacity: openAiCapacity
    principalId: identity.outputs.principalId
  }
}

module vision 'app/vision.bicep' = if (deployVision) {
  name: 'vision'
  scope: rg
  params: {
    name: !empty(visionAccountName) ? visionAccountName : 'cv-${resourceToken}'
    location: !empty(visionLocation) ? visionLocation : location
    tags: tags
    skuName: visionSku
    principalId: identity.outputs.principalId
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: systemTopicName
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    principalId: identity.outputs.principalId
    userPrincipalId: principalId
    eventGridPrincipalId: eventGrid.outputs.principalId
  }
}

// AUTOLABEL_CONFIG: the deployed providers with Entra auth, else the local ones (see labeling-config.ts). Switch
// providers later with `az functionapp config appsettings set` (infra/README.md).
// The v1 API (`{endpoint}openai/v1`, GA, no api-version): the path that serves the current models with every
// parameter they take; the deployment is named as the model.
var sceneConfig = deployOpenAi ? {
  provider: 'openai'
  baseURL: '${openAi.outputs.endpoint}openai/v1'
  model: openAi.outputs.deploymentName
  family: openAiModelFamily
  auth: { type: 'entra' }
} : { provider: 'local' }
var detectorConfig = deployVision ? {
  provider: 'azure-vision'
  endpoint: vision.outputs.endpoint
  api: visionApi
  auth: { type: 'entra' }
} : { provider: 'onnx' }

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: appName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    cosmosEndpoint: cosmos.outputs.endpoint
    labelingConfig: string({ scene: sceneConfig, detector: detectorConfig })
    nightlySchedule: nightlySchedule
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
  // The app starts with its rights in place (role assignments can take minutes to apply anyway).
  dependsOn: [rbac]
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

// Outputs: azd stores them in the environment (.azure/<env>/.env); the postdeploy hook reads them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
// The container the Event Grid subscription filters on and the function whose webhook it calls (postdeploy hook).
output IMAGES_CONTAINER_NAME string = 'images'
// Where Event Grid writes the events it could not deliver (the hook names it in the subscription).
output AZURE_STORAGE_ACCOUNT_ID string = storage.outputs.id
output EVENTGRID_DEADLETTER_CONTAINER_NAME string = 'eventgrid-deadletter'
output BLOB_TRIGGER_FUNCTION_NAME string = 'labelImageBlob'
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_DATABASE string = cosmos.outputs.databaseName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_OPENAI_ENDPOINT string = deployOpenAi ? openAi.outputs.endpoint : ''
output AZURE_VISION_ENDPOINT string = deployVision ? vision.outputs.endpoint : ''
