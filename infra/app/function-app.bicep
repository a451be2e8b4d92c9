// The Functions app on the Flex Consumption plan (FC1): Node 22, code deployed by azd into a blob container that
// the platform reads with the app's user-assigned identity, no keys anywhere. Its app settings are `appSettings`
// below: the code's defaults from app-settings.json (generated from src/app/settings.ts by `npm run infra:data`;
// never edit it by hand) and what only the deployment knows. test/deploy-settings.test.ts evaluates them and
// compares them with SETTING_NAMES in src/app/settings.ts and with local.settings.sample.json.
param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string
@description('Client id of that identity (AZURE_CLIENT_ID for DefaultAzureCredential, and the host connections).')
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param cosmosEndpoint string
@description('The labeling config as JSON (AUTOLABEL_CONFIG), built in main.bicep from the deployed providers.')
param labelingConfig string

@allowed([512, 2048, 4096])
@description('Memory per instance; 2048 MB runs the local ONNX models comfortably, 4096 MB gives 2 vCPUs.')
param instanceMemoryMB int = 2048
@minValue(1)
@maxValue(1000)
@description('Upper bound of scale-out: also the bound on concurrent provider calls (and so on OpenAI 429s and cost).')
param maximumInstanceCount int = 40
@description('Node.js major of the Flex Consumption runtime (20 reached end of life on 2026-04-30).')
param nodeVersion string = '22'

@description('Six-field NCRONTAB (UTC) of the nightly report: overrides the code\'s default (main.bicep\'s nightlySchedule).')
param nightlySchedule string
@description('Durable Functions task hub (host.json durableTask.hubName is %TASK_HUB_NAME%): one per app.')
param taskHubName string = 'autolabel'

// Worker threads for the local models: one per vCPU of the instance size (os.availableParallelism() may report the
// host's cores, not the instance's share).
var localWorkers = instanceMemoryMB == 4096 ? 2 : 1

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// union() lets the later object win where both set a key: the deployment's value replaces the code's default
// (only NIGHTLY_REPORT_SCHEDULE does, from the azd parameter; the test keeps that list).
var appSettings = union(loadJsonContent('app-settings.json'), {
  // Identity-based AzureWebJobsStorage: the host (triggers, Durable task hub, timers) and the app's own clients.
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry through the identity (Application Insights has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential (Cosmos DB, Azure OpenAI, AI Vision) picks the user-assigned identity by this.
  AZURE_CLIENT_ID: identityClientId
  COSMOS_ENDPOINT: cosmosEndpoint
  AUTOLABEL_CONFIG: labelingConfig
  // The remote build's npm install: onnxruntime-node's install script would fetch CUDA libraries the CPU-only
  // instances never load (its CPU build ships in the package).
  ONNXRUNTIME_NODE_INSTALL: 'skip'
  // Local model downloads (YOLOX-Nano, the scene backbone) go to the instance's writable temp folder.
  AUTOLABEL_CACHE_DIR: '/tmp/autolabel/models'
  AUTOLABEL_LOCAL_WORKERS: string(localWorkers)
  // %NIGHTLY_REPORT_SCHEDULE% in the timer trigger, %TASK_HUB_NAME% in host.json.
  NIGHTLY_REPORT_SCHEDULE: nightlySchedule
  TASK_HUB_NAME: taskHubName
})

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy service `api` (azure.yaml) by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        // No always-ready instances: nothing is billed while no image arrives (cold starts instead).
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
