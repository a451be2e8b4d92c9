// Azure RBAC of the app's managed identity on the storage account and Application Insights: least privilege for
// what the Functions host and the app do. (The provider roles sit with their resources, which are optional:
// Cognitive Services OpenAI User in openai.bicep, Cognitive Services User in vision.bicep; the Cosmos DB data role
// is a Cosmos SQL role assignment in cosmos.bicep.)
param storageAccountName string
param applicationInsightsName string
@description('Principal (object) id of the app\'s managed identity.')
param principalId string
@description('Optional: a user (the deployer) allowed to upload images and read reports with az login; empty for none.')
param userPrincipalId string = ''
@description('Principal id of the Event Grid system topic\'s identity: writes undeliverable events to the dead-letter container.')
param eventGridPrincipalId string

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

// The containers roles are scoped to (created in storage.bicep from data-resources.json).
resource imagesContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: 'images'
}

resource groundTruthContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: 'groundtruth'
}

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: 'reports'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: 'eventgrid-deadletter'
}

// Storage Blob Data Owner: the host reads the Flex deployment package, keeps its locks and the blob trigger's
// state in blobs, and the app reads images/ground truth and writes reports and evaluation work. Owner rather than
// Contributor because the documented identity-based AzureWebJobsStorage connection asks for it (the host manages
// container-level state); the Azure Functions Flex samples grant the same.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Queue Data Contributor: the blob trigger's poison queue (webjobs-blobtrigger-poison, read by
// blobPoisonQueue) and the Durable Functions task hub's control and work-item queues.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: the Durable Functions task hub's instance and history tables (evaluateBatch).
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: Application Insights has local auth disabled, so the host must authenticate its
// telemetry with this identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Event Grid writes the events it could not deliver (after its tries or their time to live) into the dead-letter
// container, as its system topic's identity; the reconcile sweep replays them. That container only.
resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roles.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Optional, for the deployer (shared keys are off, so nothing else would work): upload batches (autolabel upload or
// az storage blob upload-batch --auth-mode login) into images and groundtruth, read the reports; nothing else.
resource userImagesContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(imagesContainer.id, userPrincipalId, roles.storageBlobDataContributor)
  scope: imagesContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: userPrincipalId
    // No principalType: the deployer may be a user or, in CI, a service principal.
  }
}

resource userGroundTruthContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(groundTruthContainer.id, userPrincipalId, roles.storageBlobDataContributor)
  scope: groundTruthContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: userPrincipalId
  }
}

resource userReportsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(reportsContainer.id, userPrincipalId, roles.storageBlobDataReader)
  scope: reportsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: userPrincipalId
  }
}
