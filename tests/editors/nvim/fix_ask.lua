local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  local buf = vim.api.nvim_get_current_buf()
  -- edits = 'ask': Neovim asks "Apply all changes?" (vim.fn.confirm); the user answers.
  local answer = tonumber(os.getenv('PUNIE_TEST_CONFIRM'))
  local asked = {}
  vim.fn.confirm = function(message)
    table.insert(asked, message)
    return answer
  end
  H.wait('ty diagnostics on app.py', 20000, function()
    return #vim.diagnostic.get(0, { lnum = 12 }) > 0
  end)
  vim.api.nvim_win_set_cursor(0, { 13, 4 })
  vim.cmd('PunieFix')
  H.wait('the result of :PunieFix', 60000, function()
    return punie.state.last_result ~= nil
  end)
  H.record('asked', asked)
  H.record('line13', vim.api.nvim_buf_get_lines(buf, 12, 13, false)[1])
  H.record('modified', vim.bo[buf].modified)
  H.record('result', punie.state.last_result)
  H.record('lines', punie.lines())
end)
