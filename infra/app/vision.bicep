// Azure AI Vision (Computer Vision) for the azure-vision detector: Image Analysis 4.0 `objects` (available in a
// subset of regions: pick visionLocation accordingly) or 3.2 detectObjects. Keys are off; the app's identity holds
// Cognitive Services User here.
param name string
param location string
param tags object = {}
@description('S1 (10+ calls/s) or F0 (free: 20 calls/min, one per subscription).')
@allowed(['S1', 'F0'])
param skuName string = 'S1'
@description('Principal (object) id of the app\'s managed identity.')
param principalId string

// Cognitive Services User: call the data-plane APIs (image analysis) with an Entra token; no keys, no management.
var cognitiveServicesUserRoleId = 'a97b65f3-24c7-4388-baec-2e87135dc908'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'ComputerVision'
  sku: { name: skuName }
  properties: {
    // A custom subdomain is required for Microsoft Entra ID authentication.
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

// Kept with the account so it exists exactly when the account does (deployVision in main.bicep).
resource visionUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, cognitiveServicesUserRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output endpoint string = account.properties.endpoint
