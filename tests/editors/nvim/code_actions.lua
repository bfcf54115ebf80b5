local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  local client = H.attached()
  -- ty reports broken()'s `return "not an int"` (line 13); wait for it like a user would.
  H.wait('ty diagnostics on app.py', 20000, function()
    return #vim.diagnostic.get(0, { lnum = 12 }) > 0
  end)
  H.record('diagnostics', vim.tbl_map(function(d)
    return { lnum = d.lnum, source = d.source, message = d.message }
  end, vim.diagnostic.get(0)))
  -- vim.lsp.buf.code_action lists through vim.ui.select: record what it offers.
  local listed
  vim.ui.select = function(items, opts, on_choice)
    listed = vim.tbl_map(function(item)
      return opts.format_item and opts.format_item(item) or item.action.title
    end, items)
    on_choice(nil)
  end
  local function menu(opts)
    listed = nil
    vim.lsp.buf.code_action(opts)
    H.wait('the code action menu', 20000, function()
      return listed ~= nil
    end)
    return listed
  end
  -- On the diagnostic: a fix. On a selection: explain, write tests, ask.
  vim.api.nvim_win_set_cursor(0, { 13, 11 })
  H.record('on_diagnostic', menu({}))
  H.record('on_selection', menu({ range = { start = { 8, 0 }, ['end'] = { 9, 19 } } }))
end)
