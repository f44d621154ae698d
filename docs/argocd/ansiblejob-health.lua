-- Argo CD health check for ajo.dev AnsibleJob (install and meaning: docs/argocd.md).
--
-- Argo CD runs this in gopher-lua (Lua 5.1) with the global `obj` (the AnsibleJob as the API
-- server returns it) and takes the returned table's `status` and `message`. A script from
-- argocd-cm gets only the base, table and os libraries unless useOpenLibs is set, so this one
-- uses no `string` or `math` functions, not even string methods: just `..`, tostring and
-- table.concat.

local function health(status, message)
  return { status = status, message = message }
end

local function conditionOfType(conditions, conditionType)
  for _, condition in ipairs(conditions or {}) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

-- The operator rewrites a condition by moving it to the end of the list, so the last one
-- says what changed most recently.
local function latestConditionMessage(conditions)
  if conditions == nil or #conditions == 0 then
    return nil
  end
  return conditions[#conditions].message
end

-- "runner=failed rc=2 ok=1 changed=0 failures=1 unreachable=1": the result counters a reader
-- acts on (skipped, rescued and ignored rarely explain an outcome).
local function resultSummary(status)
  local parts = {}
  if status.runnerStatus ~= nil and status.runnerStatus ~= "successful" then
    table.insert(parts, "runner=" .. tostring(status.runnerStatus))
  end
  if status.rc ~= nil then
    table.insert(parts, "rc=" .. tostring(status.rc))
  end
  local counts = status.hostCounts
  if counts ~= nil then
    for _, counter in ipairs({ "ok", "changed", "failures", "unreachable" }) do
      if counts[counter] ~= nil then
        table.insert(parts, counter .. "=" .. tostring(counts[counter]))
      end
    end
  end
  return table.concat(parts, " ")
end

-- "Failed (PlaybookFailed): worker exited with rc 2; rc=2 ok=1 ...", from the Finished
-- condition the operator writes when a job ends.
local function outcome(status)
  local text = status.phase
  local finished = conditionOfType(status.conditions, "Finished")
  if finished ~= nil then
    if finished.reason ~= nil then
      text = text .. " (" .. finished.reason .. ")"
    end
    if finished.message ~= nil and finished.message ~= "" then
      text = text .. ": " .. finished.message
    end
  end
  local summary = resultSummary(status)
  if summary ~= "" then
    text = text .. "; " .. summary
  end
  return text
end

local spec = obj.spec or {}
local status = obj.status or {}
local phase = status.phase

if phase == nil then
  if spec.suspend == true then
    return health("Suspended", "held by spec.suspend: the job launches when it is false")
  end
  return health("Progressing", "waiting for the ajo operator to launch the job")
end

-- Finished jobs first: the operator stops updating observedGeneration once a job has ended
-- (only spec.suspend may still change), so a generation lag means nothing for them.
if phase == "Succeeded" then
  return health("Healthy", outcome(status))
end
if phase == "Failed" or phase == "TimedOut" then
  return health("Degraded", outcome(status))
end
if phase == "Cancelled" then
  -- Cancelling is what spec.suspend asks of a launched job: while the manifest still says so,
  -- the job is as its owner wants it. With suspend back at false the owner wants it to run,
  -- and a finished job never runs again.
  if spec.suspend == true then
    return health("Suspended", outcome(status))
  end
  return health("Degraded", outcome(status) .. "; a cancelled job never runs again: delete and re-create it to run it")
end

local observed = status.observedGeneration
local generation = obj.metadata and obj.metadata.generation
if observed ~= nil and generation ~= nil and observed < generation then
  return health("Progressing", "waiting for the operator to observe generation " .. tostring(generation)
    .. " (status is of generation " .. tostring(observed) .. ")")
end

local suspended = conditionOfType(status.conditions, "Suspended")
if phase == "Pending" and (status.attempts or 0) == 0 and (spec.suspend == true or (suspended ~= nil and suspended.status == "True")) then
  return health("Suspended", (suspended and suspended.message) or "held by spec.suspend: the job launches when it is false")
end

if phase == "Pending" or phase == "Queued" or phase == "Running" then
  local waitingFor = latestConditionMessage(status.conditions)
  if phase == "Queued" and waitingFor == nil then
    waitingFor = "waiting for a queue slot"
  end
  local message = phase
  if waitingFor ~= nil and waitingFor ~= "" then
    message = message .. ": " .. waitingFor
  end
  if phase == "Running" and status.lastEvent ~= nil then
    message = message .. "; event " .. status.lastEvent
  end
  return health("Progressing", message)
end

return health("Unknown", "phase " .. tostring(phase) .. " is not known to this health check")
