-- The user config of the end-to-end tests: the plugin from this repository, set up the
-- way the README shows, with the server command and settings the test passes in.
vim.opt.rtp:prepend(os.getenv('PUNIE_PLUGIN_DIR'))
vim.opt.swapfile = false
-- PUNIE_TEST_SETTINGS_LUA is a Lua expression, for settings only Lua can write (an empty
-- table, which JSON decoding would make a vim.empty_dict()).
local lua_settings = os.getenv('PUNIE_TEST_SETTINGS_LUA')
require('punie').setup({
  cmd = vim.json.decode(os.getenv('PUNIE_TEST_CMD')),
  settings = lua_settings and assert(loadstring('return ' .. lua_settings))()
    or vim.json.decode(os.getenv('PUNIE_TEST_SETTINGS') or '{"punie": {}, "ty": {}}'),
  notify = true,
  trusted = vim.json.decode(os.getenv('PUNIE_TEST_TRUSTED') or '[]'),
})
