# azd postdeploy hook (Windows): same as postdeploy.sh. Subscribes the blob trigger labelImageBlob (source:
# EventGrid) to BlobCreated events of the `images` container, with the app's blobs_extension system key, and
# dead-letters what Event Grid cannot deliver (30 tries or 24 hours) into the eventgrid-deadletter container.
$ErrorActionPreference = 'Stop'

if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
  throw 'postdeploy: the Azure CLI (az) is required to create the Event Grid subscription'
}

# azd exports the environment's values to hooks; fall back to `azd env get-values` when run by hand.
if (-not $env:AZURE_FUNCTION_APP_NAME -and (Get-Command azd -ErrorAction SilentlyContinue)) {
  foreach ($line in (azd env get-values)) {
    if ($line -match '^([^=]+)=(.*)$') { Set-Item -Path "env:$($Matches[1])" -Value $Matches[2].Trim('"') }
  }
}

$resourceGroup = $env:AZURE_RESOURCE_GROUP
$app = $env:AZURE_FUNCTION_APP_NAME
$topic = $env:AZURE_EVENTGRID_SYSTEM_TOPIC_NAME
if (-not $resourceGroup -or -not $app -or -not $topic) {
  throw 'postdeploy: AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME and AZURE_EVENTGRID_SYSTEM_TOPIC_NAME must be set (run azd provision first)'
}
$container = if ($env:IMAGES_CONTAINER_NAME) { $env:IMAGES_CONTAINER_NAME } else { 'images' }
$storageId = $env:AZURE_STORAGE_ACCOUNT_ID
if (-not $storageId) { throw 'postdeploy: AZURE_STORAGE_ACCOUNT_ID must be set (run azd provision first)' }
$deadLetterContainer = if ($env:EVENTGRID_DEADLETTER_CONTAINER_NAME) { $env:EVENTGRID_DEADLETTER_CONTAINER_NAME } else { 'eventgrid-deadletter' }
$function = if ($env:BLOB_TRIGGER_FUNCTION_NAME) { $env:BLOB_TRIGGER_FUNCTION_NAME } else { 'labelImageBlob' }

$key = ''
for ($attempt = 1; $attempt -le 12; $attempt++) {
  $key = az functionapp keys list --name $app --resource-group $resourceGroup --query 'systemKeys.blobs_extension' --output tsv 2>$null
  if ($LASTEXITCODE -eq 0 -and $key -and $key -ne 'null') { break }
  Write-Host "postdeploy: waiting for the blobs_extension system key of $app ($attempt/12)..."
  Start-Sleep -Seconds 10
}
if (-not $key -or $key -eq 'null') {
  throw "postdeploy: no blobs_extension key on ${app}: is the code deployed and the host running?"
}

# The app's own host name: apps created with unique default host names are not <app>.azurewebsites.net.
$appHost = az functionapp show --name $app --resource-group $resourceGroup --query defaultHostName --output tsv
if ($LASTEXITCODE -ne 0 -or -not $appHost) { throw "postdeploy: could not read the default host name of $app" }
$endpoint = "https://$appHost/runtime/webhooks/blobs?functionName=Host.Functions.$function&code=$key"
Write-Host "postdeploy: subscribing $function to BlobCreated on /blobServices/default/containers/$container/ (topic $topic)"
# The endpoint contains '&', and az is a .cmd script on Windows: cmd.exe would split the URL there unless it arrives
# in double quotes, hence the embedded quotes (as in the Azure Functions Event Grid blob trigger samples).
$quotedEndpoint = '"' + $endpoint + '"'
az eventgrid system-topic event-subscription create `
  --name "$function-blob-created" `
  --resource-group $resourceGroup `
  --system-topic-name $topic `
  --endpoint-type webhook `
  --endpoint $quotedEndpoint `
  --included-event-types Microsoft.Storage.BlobCreated `
  --subject-begins-with "/blobServices/default/containers/$container/" `
  --max-delivery-attempts 30 `
  --event-ttl 1440 `
  --deadletter-identity systemassigned `
  --deadletter-identity-endpoint "$storageId/blobServices/default/containers/$deadLetterContainer" `
  --output none
if ($LASTEXITCODE -ne 0) { throw 'postdeploy: creating the Event Grid subscription failed' }
Write-Host "postdeploy: done. Upload a batch to $container/<batchId>/ to label it."
