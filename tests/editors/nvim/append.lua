local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/crlf.py')
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  vim.cmd('PunieAsk add a function')
  H.wait('the result', 60000, function()
    return punie.state.last_result ~= nil
  end)
  H.record('result', punie.state.last_result)
  -- What the user gets on :write.
  for _, name in ipairs({ 'app.py', 'crlf.py', 'new_module.py' }) do
    vim.api.nvim_buf_call(vim.fn.bufnr('pkg/' .. name), function()
      vim.cmd('silent write! ' .. vim.fn.fnameescape(os.getenv('PUNIE_TEST_OUT') .. '.' .. name))
    end)
  end
end)
