local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  vim.fn.confirm = function()
    return 2 -- No
  end
  vim.cmd('PunieAsk add a function')
  H.wait('the result', 60000, function()
    return punie.state.last_result ~= nil
  end)
  H.record('result', punie.state.last_result)
  local modified = {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].modified and vim.bo[buf].buftype == '' then
      table.insert(modified, vim.api.nvim_buf_get_name(buf))
    end
  end
  H.record('modified', modified)
end)
