local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')

local function pytest(client)
  return H.request(client, 'workspace/executeCommand', {
    command = 'punie.tool',
    arguments = { { name = 'pytest_run', args = { path = 'tests/test_ok.py' } } },
  }, 60000)
end

H.run(function()
  vim.cmd.edit('pkg/app.py')
  local client = H.attached()
  H.record('pytest', pytest(client))
  -- Another project in the same Neovim: a client of its own, with its own trust.
  vim.cmd.edit(os.getenv('PUNIE_TEST_OTHER'))
  local other = H.attached()
  H.record('other_is_another_client', other.id ~= client.id)
  H.record('other_pytest', pytest(other))
end)
