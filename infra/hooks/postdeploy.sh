#!/bin/sh
# azd postdeploy hook: subscribe the blob trigger labelImageBlob (source: EventGrid) to BlobCreated events of the
# `images` container. Runs after `azd deploy` because the webhook URL needs the app's `blobs_extension` system key,
# which the host creates only once the code with the blob trigger is running. Idempotent: re-running updates the
# subscription (a new key after a host key rotation is picked up).
# Events Event Grid cannot deliver (30 tries, or 24 hours) go to the dead-letter container, written as the system
# topic's identity; the app's reconcile sweep replays them (README: Failure behaviour).
# Reads the azd environment (Bicep outputs): AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME,
# AZURE_EVENTGRID_SYSTEM_TOPIC_NAME, IMAGES_CONTAINER_NAME, BLOB_TRIGGER_FUNCTION_NAME, AZURE_STORAGE_ACCOUNT_ID,
# EVENTGRID_DEADLETTER_CONTAINER_NAME.
set -eu

if ! command -v az >/dev/null 2>&1; then
  echo "postdeploy: the Azure CLI (az) is required to create the Event Grid subscription" >&2
  exit 1
fi

# azd exports the environment's values to hooks; fall back to `azd env get-values` when run by hand.
if [ -z "${AZURE_FUNCTION_APP_NAME:-}" ] && command -v azd >/dev/null 2>&1; then
  eval "$(azd env get-values)"
fi

RESOURCE_GROUP="${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set (run azd provision first)}"
APP="${AZURE_FUNCTION_APP_NAME:?AZURE_FUNCTION_APP_NAME is not set}"
TOPIC="${AZURE_EVENTGRID_SYSTEM_TOPIC_NAME:?AZURE_EVENTGRID_SYSTEM_TOPIC_NAME is not set}"
CONTAINER="${IMAGES_CONTAINER_NAME:-images}"
FUNCTION="${BLOB_TRIGGER_FUNCTION_NAME:-labelImageBlob}"
SUBSCRIPTION_NAME="${FUNCTION}-blob-created"
STORAGE_ID="${AZURE_STORAGE_ACCOUNT_ID:?AZURE_STORAGE_ACCOUNT_ID is not set}"
DEADLETTER_CONTAINER="${EVENTGRID_DEADLETTER_CONTAINER_NAME:-eventgrid-deadletter}"

# The system key appears a little after the host starts: retry for about two minutes.
KEY=""
attempt=1
while [ "$attempt" -le 12 ]; do
  KEY="$(az functionapp keys list --name "$APP" --resource-group "$RESOURCE_GROUP" \
    --query "systemKeys.blobs_extension" --output tsv 2>/dev/null || true)"
  if [ -n "$KEY" ] && [ "$KEY" != "null" ]; then break; fi
  echo "postdeploy: waiting for the blobs_extension system key of $APP ($attempt/12)..."
  attempt=$((attempt + 1))
  sleep 10
done
if [ -z "$KEY" ] || [ "$KEY" = "null" ]; then
  echo "postdeploy: no blobs_extension key on $APP: is the code deployed and the host running? Check the app's log stream." >&2
  exit 1
fi

# The app's own host name: apps created with unique default host names are not <app>.azurewebsites.net.
HOST="$(az functionapp show --name "$APP" --resource-group "$RESOURCE_GROUP" --query defaultHostName --output tsv)"
if [ -z "$HOST" ]; then
  echo "postdeploy: could not read the default host name of $APP" >&2
  exit 1
fi
ENDPOINT="https://${HOST}/runtime/webhooks/blobs?functionName=Host.Functions.${FUNCTION}&code=${KEY}"

echo "postdeploy: subscribing ${FUNCTION} to BlobCreated on /blobServices/default/containers/${CONTAINER}/ (topic ${TOPIC})"
az eventgrid system-topic event-subscription create \
  --name "$SUBSCRIPTION_NAME" \
  --resource-group "$RESOURCE_GROUP" \
  --system-topic-name "$TOPIC" \
  --endpoint-type webhook \
  --endpoint "$ENDPOINT" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "/blobServices/default/containers/${CONTAINER}/" \
  --max-delivery-attempts 30 \
  --event-ttl 1440 \
  --deadletter-identity systemassigned \
  --deadletter-identity-endpoint "${STORAGE_ID}/blobServices/default/containers/${DEADLETTER_CONTAINER}" \
  --output none

echo "postdeploy: done. Upload a batch to ${CONTAINER}/<batchId>/ to label it."
