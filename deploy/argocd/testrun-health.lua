-- Argo CD health check for proctor.dev/TestRun (resource.customizations.health.proctor.dev_TestRun
-- in argocd-cm; see deploy/argocd/README.md). Progressing while the run runs, Healthy when it
-- succeeded (every probe Passed, or Skipped by the run's own policy), Degraded when a probe
-- Failed or the run could not be carried out (Error).
local hs = { status = "Progressing", message = "waiting for the controller to start the run" }
if obj.status == nil then
  return hs
end
local status = obj.status
if status.observedGeneration ~= nil and obj.metadata ~= nil and obj.metadata.generation ~= nil
    and status.observedGeneration < obj.metadata.generation then
  hs.message = "the controller has not seen the latest spec yet"
  return hs
end
local s = status.summary or {}
local counts = string.format("%d passed, %d failed, %d errors, %d skipped of %d",
  s.passed or 0, s.failed or 0, s.errored or 0, s.skipped or 0, s.total or 0)
local outcome = nil
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type == "Passed" then
      outcome = c
    end
  end
end
if status.phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = counts
elseif status.phase == "Failed" or status.phase == "Error" then
  hs.status = "Degraded"
  if outcome ~= nil and outcome.message ~= nil then
    hs.message = status.phase .. ": " .. outcome.message
  else
    hs.message = status.phase .. ": " .. counts
  end
else
  hs.message = "running: " .. counts
end
return hs
