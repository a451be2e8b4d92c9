// The storage account's Event Grid system topic. The blob trigger of labelImageBlob (source: 'EventGrid') needs a
// subscription on it that posts BlobCreated events of the `images` container to the blob extension's webhook; the
// webhook URL carries the function app's `blobs_extension` system key, which exists only once the code runs, so
// infra/hooks/postdeploy.sh creates that subscription after `azd deploy`, with a dead-letter destination (the
// eventgrid-deadletter container, written as this topic's identity), a delivery-attempt limit and a time to live.
param name string
@description('Must be the storage account\'s location.')
param location string
param tags object = {}
param storageAccountId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  // Dead-lettering authenticates as this identity (shared keys are off on the account).
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
