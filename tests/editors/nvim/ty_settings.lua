-- The user changes a ty setting mid-session the way Neovim documents it (the client's
-- `settings`, then workspace/didChangeConfiguration): ty's diagnostic goes, the server
-- (and its conversations) stays, and ty still sees the unsaved buffer.
local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
local RULE = 'invalid-explicit-return'

local function codes(bufnr)
  local found = {}
  for _, diagnostic in ipairs(vim.diagnostic.get(bufnr)) do
    found[#found + 1] = diagnostic.code
  end
  return found
end

local function has_rule(bufnr)
  return vim.tbl_contains(codes(bufnr), RULE)
end

local function status(client)
  local params = { command = 'punie.status', arguments = { {} } }
  return H.request(client, 'workspace/executeCommand', params)
end

H.run(function()
  vim.cmd.edit('pkg/app.py')
  local client = H.attached()
  local buf = vim.api.nvim_get_current_buf()
  -- An unsaved function at the end of the buffer.
  local last = vim.api.nvim_buf_line_count(buf)
  local fresh = { '', 'def fresh_only_in_buffer(count: int) -> int:', '    return count' }
  vim.api.nvim_buf_set_lines(buf, last, last, false, fresh)
  H.wait('ty to report ' .. RULE, 30000, function()
    return has_rule(buf)
  end)
  H.record('before', codes(buf))
  local before = status(client)

  client.settings = vim.tbl_deep_extend('force', client.settings, {
    ty = { configuration = { rules = { [RULE] = 'ignore' } } },
  })
  client:notify('workspace/didChangeConfiguration', { settings = client.settings })
  H.wait('the diagnostic to go', 30000, function()
    return not has_rule(buf)
  end)
  H.record('after', codes(buf))

  vim.api.nvim_win_set_cursor(0, { last + 2, 6 })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local hover = H.request(client, 'textDocument/hover', params)
  H.record('hover', hover and hover.contents)
  local after = status(client)
  H.record('restarts', { before.ty.restarts, after.ty.restarts })
  H.record('same_server', require('punie').client(0).id == client.id and not client:is_stopped())
  H.record('modified', vim.bo[buf].modified)
end)
