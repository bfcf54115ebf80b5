-- Buffers as Neovim keeps them: a form feed is not a line break, a dos-format file sends
-- CRLF; after incremental edits punie-lsp's copy (read_file) must be the buffer's text.
local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')

local function server_copy(client, path)
  return H.request(client, 'workspace/executeCommand', {
    command = 'punie.tool',
    arguments = { { name = 'read_file', args = { path = path } } },
  })
end

local function buffer_text()
  local eol = vim.bo.fileformat == 'dos' and '\r\n' or (vim.bo.fileformat == 'mac' and '\r' or '\n')
  return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), eol) .. eol
end

H.run(function()
  vim.cmd.edit('ff.py')
  local client = H.attached()
  H.record('init_options_json', vim.json.encode(client.config.init_options))
  -- Type `4` over the `3` of `c = 3`, the third line (a keystroke's incremental change).
  vim.api.nvim_buf_set_text(0, 2, 4, 2, 5, { '4' })
  vim.api.nvim_buf_set_text(0, 0, 0, 0, 0, { '# \u{1F600} ' })
  H.record('ff_buffer', buffer_text())
  H.record('ff_server', server_copy(client, 'ff.py'))

  vim.cmd.edit('crlf.py')
  H.attached()
  H.record('crlf_format', vim.bo.fileformat)
  vim.api.nvim_buf_set_text(0, 1, 4, 1, 5, { '3' })
  vim.api.nvim_buf_set_lines(0, 2, 2, false, { 'z = 4' })
  H.record('crlf_buffer', buffer_text())
  H.record('crlf_server', server_copy(client, 'crlf.py'))
end)
