// The app's storage account: the Functions host's own state (AzureWebJobsStorage: blob leases, Durable task hub
// queues and tables, the blob trigger's poison queue), the deployment package of the Flex Consumption plan, and
// the data containers of src/app/store/names.ts. Keys are off: every client uses Microsoft Entra ID.
param name string
param location string
param tags object = {}
@description('Blob container the Flex Consumption plan deploys the app package from.')
param deploymentContainerName string

// The blob containers and queues of src/app/store/names.ts, generated into data-resources.json by
// `npm run infra:data` (never edit it by hand; test/deploy-settings.test.ts fails when it is stale).
var dataResources = loadJsonContent('data-resources.json')

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    dnsEndpointType: 'Standard'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in concat(dataResources.blobContainers, [deploymentContainerName]): {
    parent: blobService
    name: container
    properties: { publicAccess: 'None' }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The app's own queues; the host creates its own (the blob trigger's poison queue, the Durable task hub's).
resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in dataResources.queues: {
    parent: queueService
    name: queue
  }
]

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
