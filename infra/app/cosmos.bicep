// Cosmos DB for NoSQL, serverless (billed per request unit and GB, nothing when idle), keys disabled: the app
// signs in with its managed identity and holds the built-in Data Contributor role (data plane only: it cannot
// create or delete containers, which is why they are created here).
param name string
param location string
param tags object = {}
@description('Principal (object) id of the app\'s managed identity.')
param principalId string
@description('Optional: a user (the deployer) who may read and write data for debugging; empty for none.')
param userPrincipalId string = ''

// The database the app uses by default (COSMOS_DATABASE) and the containers of COSMOS_CONTAINERS in
// src/app/store/names.ts with their partition keys, generated into data-resources.json by `npm run infra:data`
// (never edit it by hand; test/deploy-settings.test.ts fails when it is stale).
var cosmosData = loadJsonContent('data-resources.json').cosmos

// Cosmos DB Built-in Data Contributor (a Cosmos DB SQL role, not an Azure RBAC role).
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: [
      { name: 'EnableServerless' }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: cosmosData.database
  properties: {
    resource: { id: cosmosData.database }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [
  for container in cosmosData.containers: {
    parent: database
    name: container.name
    properties: {
      resource: {
        id: container.name
        partitionKey: {
          paths: [container.partitionKey]
          kind: 'Hash'
          version: 2
        }
      }
    }
  }
]

// The app reads and writes documents (labels, batches, reports) of its database, and nothing else in the account.
resource appDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: account
  name: guid(account.id, principalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: principalId
    scope: '${account.id}/dbs/${database.name}'
  }
}

// Optional: the deployer, to inspect documents with Data Explorer or the SDK (az login).
resource userDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = if (!empty(userPrincipalId)) {
  parent: account
  name: guid(account.id, userPrincipalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: userPrincipalId
    scope: '${account.id}/dbs/${database.name}'
  }
  // Cosmos DB applies SQL role assignments one at a time.
  dependsOn: [appDataContributor]
}

output name string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
