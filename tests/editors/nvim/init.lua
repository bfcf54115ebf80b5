-- The user config of the end-to-end tests: the plugin from this repository, set up the
-- way the README shows, with the server command and settings the test passes in.
vim.opt.rtp:prepend(os.getenv('PUNIE_PLUGIN_DIR'))
vim.opt.swapfile = false
require('punie').setup({
  cmd = vim.json.decode(os.getenv('PUNIE_TEST_CMD')),
  settings = vim.json.decode(os.getenv('PUNIE_TEST_SETTINGS') or '{"punie": {}, "ty": {}}'),
  notify = true,
})
