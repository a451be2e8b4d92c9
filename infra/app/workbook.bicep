// The operations workbook (infra/monitoring/workbook.json: the queries of infra/monitoring/queries.kql), shared in
// the resource group and bound to the app's Application Insights.
param displayName string = 'Auto-labeling operations'
param location string
param tags object = {}
param applicationInsightsId string

var workbook = loadJsonContent('../monitoring/workbook.json')

resource operations 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID.
  name: guid(resourceGroup().id, applicationInsightsId, 'autolabel-operations')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: string(union(workbook, { fallbackResourceIds: [applicationInsightsId] }))
  }
}

output id string = operations.id
