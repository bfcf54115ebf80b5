local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')

local function pytest(client, uri)
  return H.request(client, 'workspace/executeCommand', {
    command = 'punie.tool',
    arguments = { { name = 'pytest_run', args = { path = 'tests/test_ok.py' }, uri = uri } },
  }, 60000)
end

H.run(function()
  vim.cmd.edit('pkg/app.py')
  local project_buf = vim.api.nvim_get_current_buf()
  local client = H.attached()
  H.record('pytest', pytest(client))
  -- Another project in the same Neovim: a client of its own, with its own trust.
  local other_test = os.getenv('PUNIE_TEST_OTHER')
  vim.cmd.edit(other_test)
  local other = H.attached()
  H.record('other_is_another_client', other.id ~= client.id)
  H.record('other_pytest', pytest(other))
  -- The other project added as a folder of the trusted project's client: per folder.
  -- Waits until punie-lsp has asked for that folder's settings (its trust) and had them.
  local root = os.getenv('PUNIE_TEST_OTHER_ROOT')
  local asked = false
  local answer = client.handlers['workspace/configuration'] or vim.lsp.handlers['workspace/configuration']
  client.handlers['workspace/configuration'] = function(err, params, ctx, config)
    local result = answer(err, params, ctx, config)
    for _, item in ipairs(params.items or {}) do
      asked = asked or item.scopeUri == vim.uri_from_fname(root)
    end
    return result
  end
  vim.api.nvim_set_current_buf(project_buf)
  vim.lsp.buf.add_workspace_folder(root)
  H.wait('punie-lsp to ask for the added folder\'s settings', 20000, function()
    return asked
  end)
  H.record('folders', #client.workspace_folders)
  H.record('added_pytest', pytest(client, vim.uri_from_fname(other_test)))
  H.record('pytest_after_add', pytest(client, vim.uri_from_bufnr(project_buf)))
end)
