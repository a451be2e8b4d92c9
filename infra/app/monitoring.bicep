// Log Analytics + workspace-based Application Insights. Local (instrumentation key) auth is off: the host sends
// telemetry with the app's managed identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, and the Monitoring Metrics
// Publisher role in rbac.bicep).
param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object = {}
param retentionInDays int = 30
@description('Resource id of an action group the drift alert notifies (e-mail, webhook, ...); empty: the alert fires in the portal only.')
param driftActionGroupId string = ''
@description('Severity of the drift alert: 0 critical .. 4 verbose.')
@minValue(0)
@maxValue(4)
param driftAlertSeverity int = 2

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// Drift without labels: the nightly run logs one `drift-detected` event per batch and metric that drifted
// (src/app/services/nightly-drift.ts). The rule looks at each hour, so one nightly run fires it once, split by metric.
// Traces are sampled (host.json); the nightly run is the only writer at its hour, so its few events are kept in
// practice, and the nightly report lists every flagged metric whatever the sampling.
resource driftAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${applicationInsightsName}-drift-detected'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'autolabel: drift detected'
    description: 'A batch drifted from its reference (input, output or software metrics); see the nightly report drift section.'
    severity: driftAlertSeverity
    enabled: true
    scopes: [applicationInsights.id]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message contains '"event":"drift-detected"'
| extend e = parse_json(message)
| where tostring(e.event) == "drift-detected"
| summarize events = sum(itemCount) by metric = tostring(e.metric), batchId = tostring(e.batchId)
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'events'
          dimensions: [
            { name: 'metric', operator: 'Include', values: ['*'] }
            { name: 'batchId', operator: 'Include', values: ['*'] }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(driftActionGroupId) ? [] : [driftActionGroupId] }
  }
}

output driftAlertName string = driftAlert.name
output applicationInsightsId string = applicationInsights.id
output applicationInsightsName string = applicationInsights.name
output connectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsId string = logAnalytics.id
