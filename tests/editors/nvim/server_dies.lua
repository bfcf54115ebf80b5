local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  local notified = {}
  local notify = vim.notify
  vim.notify = function(message, level, opts)
    table.insert(notified, message)
    return notify(message, level, opts)
  end
  local token = punie.ask('talk slowly')
  H.wait('the first streamed words', 30000, function()
    return #table.concat(punie.lines(), '\n') > #'## talk slowly' + 5
  end)
  -- The server dies mid-run (crash, out of memory, a kill).
  for _, pid in ipairs(vim.api.nvim_get_proc_children(vim.fn.getpid())) do
    if vim.fn.system({ 'ps', '-o', 'args=', '-p', tostring(pid) }):find('punie_lsp') then
      vim.uv.kill(pid, 'sigkill')
    end
  end
  H.wait('the run to end', 20000, function()
    return punie.state.running[token] == nil
  end)
  H.record('statusline', punie.statusline())
  H.record('lines', punie.lines())
  H.record('notified', notified)
end)
