local H = dofile(os.getenv('PUNIE_TEST_DIR') .. '/harness.lua')
H.run(function()
  vim.cmd.edit('pkg/app.py')
  H.attached()
  local punie = require('punie')
  -- What a statusline showing require('punie').statusline() would show, per report.
  local shown = {}
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function()
      table.insert(shown, punie.statusline())
    end,
  })
  -- The punie/message notifications the plugin shows, by kind, in order.
  local kinds = {}
  local show = punie.show
  punie.show = function(message)
    table.insert(kinds, message.kind)
    show(message)
  end
  vim.cmd('8,9PunieAsk What does origin_distance do?')
  H.wait('the answer of :PunieAsk', 60000, function()
    return punie.state.last_result ~= nil
  end)
  local win = punie.state.win
  H.record('result', punie.state.last_result)
  H.record('lines', punie.lines())
  H.record('float', win and vim.api.nvim_win_is_valid(win) and vim.api.nvim_win_get_config(win).relative or nil)
  H.record('float_buf', win and vim.api.nvim_win_get_buf(win) == punie.state.buf)
  H.record('progress', shown)
  H.record('kinds', kinds)
  H.record('conversation', punie.state.conversation_id)
  -- A second question continues the conversation; :PunieReset starts a new one.
  punie.state.last_result = nil
  vim.cmd('PunieAsk And what does main do?')
  H.wait('the second answer', 30000, function()
    return punie.state.last_result ~= nil
  end)
  H.record('second_conversation', punie.state.last_result.conversationId)
  vim.cmd('PunieReset')
  H.record('after_reset', { conversation = punie.state.conversation_id or vim.NIL, lines = punie.lines() })
end)
