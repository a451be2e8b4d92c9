// Azure OpenAI with one model deployment for the scene classifier (a GA vision model with structured outputs; the
// app calls it through the v1 API). Keys are off; the app's identity holds Cognitive Services OpenAI User here.
param name string
param location string
param tags object = {}
@description('What the app sends as `model` (the v1 API routes by deployment name).')
param deploymentName string = 'scene-classifier'
param modelName string = 'gpt-5.1'
param modelVersion string = '2025-11-13'
@description('Deployment type: GlobalStandard (pay per token, highest default quota), DataZoneStandard or Standard (regional).')
param skuName string = 'GlobalStandard'
@description('Capacity in thousands of tokens per minute (the deployment\'s rate limit).')
param capacity int = 30
@description('Principal (object) id of the app\'s managed identity.')
param principalId string

// Cognitive Services OpenAI User: call inference (chat completions) on deployments; no keys, no management.
var openAiUserRoleId = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: { name: 'S0' }
  properties: {
    // A custom subdomain is required for Microsoft Entra ID authentication.
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: skuName
    capacity: capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
  }
}

// Kept with the account so it exists exactly when the account does (deployOpenAi in main.bicep).
resource openAiUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, openAiUserRoleId)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output endpoint string = account.properties.endpoint
output deploymentName string = deployment.name
