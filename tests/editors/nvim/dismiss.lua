local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  local token = punie.ask('talk slowly')
  H.wait('the first streamed words', 30000, function()
    return #table.concat(punie.lines(), '\n') > #'## talk slowly' + 5
  end)
  -- The user closes the window (q in it, or :close) while the answer still streams.
  if os.getenv('PUNIE_TEST_CLOSE') == 'q' then
    vim.api.nvim_buf_call(punie.state.buf, function()
      vim.api.nvim_feedkeys('q', 'x', false)
    end)
  else
    vim.api.nvim_win_close(punie.state.win, false)
  end
  H.wait('the window to be gone', 5000, function()
    return punie.state.win == nil
  end)
  H.record('closed', true)
  H.wait('the run to end', 30000, function()
    return punie.state.running[token] == nil
  end)
  H.record('open_after_run', punie.state.win ~= nil and vim.api.nvim_win_is_valid(punie.state.win))
  H.record('lines', punie.lines())
  vim.cmd('PunieAnswers')
  H.record('reopened', punie.state.win ~= nil and vim.api.nvim_win_is_valid(punie.state.win))
  -- The next run shows the window again.
  punie.state.last_result = nil
  punie.ask('again')
  H.wait('the second run', 30000, function()
    return punie.state.last_result ~= nil
  end)
end)
