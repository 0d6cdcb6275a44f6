-- Argo CD health check for every nno.app kind (Platform, VirtualMachine, Disk, Bucket, Firewall,
-- LoadBalancer, ServicePackage): they share one status shape (status.observedGeneration and the
-- conditions Ready, Synced, Stalled, Reconciling, each with its own observedGeneration).
--
-- Install it as resource.customizations.health.nno.app_<Kind> in argocd-cm (see
-- argocd-cm-patch.yaml next to this file). Argo CD runs this file as the body of a function with
-- `obj` (the live object) in scope; it returns hs with hs.status and hs.message:
--
--   Healthy      Ready=True and Synced=True, both for the object's current metadata.generation,
--                and status.observedGeneration == metadata.generation
--   Degraded     Stalled=True for the current generation: nno-operator cannot converge the object
--                without a person (invalid spec, a request 3nv.io rejected, a failed NNO job); the
--                message is the condition's reason and message (README "Troubleshooting by
--                condition reason" says what to do)
--   Progressing  everything else: no status yet, a status of an older generation, Ready or Synced
--                not (yet) True (Ready=True with Synced=False is NOT healthy), or being deleted
--
-- Written for Argo CD's gopher-lua (Lua 5.1) and tested with lua5.4 (tests/gitops_health.rs).

local hs = {}

local function find(conditions, type_)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c == nil then
    return ""
  end
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  end
  return reason .. message
end

local metadata = obj.metadata or {}
local generation = metadata.generation
local status = obj.status

-- A condition written for the current spec (conditions without observedGeneration count as current).
local function current(c)
  return c ~= nil and (c.observedGeneration == nil or generation == nil or c.observedGeneration == generation)
end

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  local ready = find(status and status.conditions, "Ready")
  if ready ~= nil and ready.status ~= "True" and ready.reason ~= nil then
    hs.message = "deleting: " .. describe(ready)
  else
    hs.message = "deleting"
  end
  return hs
end

if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "waiting for nno-operator to report a status"
  return hs
end

if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "waiting for nno-operator to observe generation " .. tostring(generation) ..
    " (status is of generation " .. tostring(status.observedGeneration) .. ")"
  return hs
end

local stalled = find(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" and current(stalled) then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local ready = find(status.conditions, "Ready")
local synced = find(status.conditions, "Synced")
if ready == nil or synced == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the Ready and Synced conditions"
  return hs
end
if not current(ready) or not current(synced) then
  hs.status = "Progressing"
  hs.message = "waiting for nno-operator to report on generation " .. tostring(generation) ..
    " (conditions are of an older generation)"
  return hs
end

if ready.status == "True" and synced.status == "True" then
  hs.status = "Healthy"
  if ready.message ~= nil and ready.message ~= "" then
    hs.message = ready.message
  else
    hs.message = "Ready"
  end
  return hs
end

hs.status = "Progressing"
if synced.status ~= "True" then
  hs.message = "Synced=" .. tostring(synced.status) .. " " .. describe(synced)
else
  hs.message = "Ready=" .. tostring(ready.status) .. " " .. describe(ready)
end
return hs
