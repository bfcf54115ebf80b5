local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  -- Two runs at once: an ask and an explanation, their answers streaming word by word.
  local ask = punie.ask('first question')
  local explain = punie.explain({ line1 = 8, line2 = 9 })
  H.record('both_running', punie.state.running[ask] ~= nil and punie.state.running[explain] ~= nil)
  local statuses = {}
  H.wait('both runs', 60000, function()
    table.insert(statuses, punie.statusline())
    return next(punie.state.running) == nil
  end)
  H.record('lines', punie.lines())
  H.record('statusline_while_one_ran', statuses)
end)
