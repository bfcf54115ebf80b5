local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  -- What the user is told, as vim.notify shows it.
  local notified = {}
  local notify = vim.notify
  vim.notify = function(message, level, opts)
    table.insert(notified, { message = message, level = level })
    return notify(message, level, opts)
  end
  vim.cmd('PunieAsk Is my code fine?')
  H.wait('the failed run', 60000, function()
    return punie.state.last_result ~= nil
  end)
  -- :PunieStatus says why the model failed, not only that it is not loaded.
  vim.cmd('PunieStatus')
  H.wait('the status', 20000, function()
    return punie.state.last_status ~= nil
  end)
  H.record('result', punie.state.last_result)
  H.record('lines', punie.lines())
  H.record('notified', notified)
  H.record('error_level', vim.log.levels.ERROR)
end)
