--- Punie for Neovim 0.11+: punie-lsp on vim.lsp.config/vim.lsp.enable, plus the agent.
---
--- Everything ty offers (hover, definition, diagnostics, code actions, ...) arrives through
--- the built-in client unchanged. The agent commands (punie.ask, punie.fix, ...) are
--- `workspace/executeCommand` requests; the user commands below collect their arguments
--- (prompt, range, diagnostic), send them with a work-done token, and stream the answer
--- (`punie/message`) into a floating window. Edits come back as `workspace/applyEdit`,
--- which Neovim applies itself. Code actions that carry punie's commands run through the
--- same path (client-side `commands`).
---
---   require('punie').setup({
---     cmd = { 'punie-lsp', '--stdio' },
---     settings = { punie = { edits = 'ask' }, ty = {} },
---   })

local M = {}

local NAME = 'punie'
local AGENT = { ['punie.ask'] = 'asking', ['punie.fix'] = 'fixing', ['punie.explain'] = 'explaining', ['punie.writeTests'] = 'writing tests' }

local defaults = {
  --- How to start the server (any `vim.lsp.Config.cmd`).
  cmd = { 'punie-lsp', '--stdio' },
  --- Extra environment for the server process.
  cmd_env = nil,
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', 'requirements.txt', '.git' },
  --- Sent as initializationOptions and answered to workspace/configuration.
  settings = { punie = {}, ty = {} },
  --- Folders whose projects punie may run the code of (`pytest_run`): a project whose
  --- root is one of them, or inside one, gets `punie.trust` (README, "Containment and
  --- trust"). `settings.punie.trust = true` would trust every project you open.
  trusted = {},
  --- Buffer-local mappings on attach (normal and visual mode); false for none.
  keys = { ask = '<leader>pa', fix = '<leader>pf', explain = '<leader>pe', write_tests = '<leader>pt' },
  --- The answer window, as fractions of the editor.
  float = { width = 0.45, height = 0.6, border = 'rounded' },
  --- Show begin/end of each run with vim.notify.
  notify = true,
}

--- What the plugin knows at run time; read by `statusline()` and the tests.
M.state = {
  conversation_id = nil, --- the conversation :PunieAsk continues
  progress = nil, --- the latest progress message of a running command
  running = {}, --- work-done token -> command
  last_result = nil, --- the result of the last agent command (CommandResult: README, "Command results")
  last_status = nil, --- the result of the last :PunieStatus
  buf = nil, --- the answer buffer
  win = nil, --- the answer window, while open
}

local tokens = 0
local dismissed = false -- the user closed the window during the runs going on now
local NS = vim.api.nvim_create_namespace('punie-answers')
--- Each run's part of the answer window, by work-done token: its last line (an extmark,
--- so runs going at once each grow under their own heading), whether 'text' arrived since
--- the last block of another kind, whether its answer is shown already.
local sections = {}
local latest = nil -- the token of the run started last (messages without a token go there)
local progress_of = {} -- work-done token -> its latest progress message
--- Running commands' ends, by token: `{ client = id, done = fn }`. Neovim drops a request
--- whose server died (crashed, killed, out of memory) without calling back, so the run
--- would show as running for good: `on_exit` ends them with the reason instead.
local pending = {}

-- -- the answer window --------------------------------------------------------------

local function answer_buf()
  local buf = M.state.buf
  if buf and vim.api.nvim_buf_is_valid(buf) then
    return buf
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].bufhidden = 'hide'
  pcall(vim.api.nvim_buf_set_name, buf, 'punie://answers')
  vim.keymap.set('n', 'q', function()
    M.close()
  end, { buffer = buf, desc = 'Close the Punie window' })
  M.state.buf = buf
  return buf
end

local function footer()
  local text = M.state.progress
  if not text or text == '' then
    return nil
  end
  return { { ' ' .. text:sub(1, 60) .. ' ', 'Comment' } }
end

--- Open (or focus-preservingly show) the answer window.
function M.open()
  local buf = answer_buf()
  if M.state.win and vim.api.nvim_win_is_valid(M.state.win) then
    return M.state.win
  end
  local cfg = M.config.float
  local width = math.max(40, math.floor(vim.o.columns * cfg.width))
  local height = math.max(8, math.floor((vim.o.lines - 2) * cfg.height))
  local win_config = {
    relative = 'editor',
    row = 1,
    col = math.max(0, vim.o.columns - width - 2),
    width = width,
    height = height,
    border = cfg.border,
    style = 'minimal',
    title = ' Punie ',
    title_pos = 'center',
  }
  local f = footer()
  if f then
    win_config.footer, win_config.footer_pos = f, 'left'
  end
  local win = vim.api.nvim_open_win(buf, false, win_config)
  M.state.win = win
  -- Closed any way (q, :close, <C-w>o elsewhere): as M.close, it stays closed this run.
  vim.api.nvim_create_autocmd('WinClosed', {
    pattern = tostring(win),
    once = true,
    callback = function()
      if M.state.win == win then
        dismissed, M.state.win = true, nil
      end
    end,
  })
  vim.wo[M.state.win].wrap = true
  vim.wo[M.state.win].linebreak = true
  -- markdown flags snake_case words as errors: plain text in this window
  vim.wo[M.state.win].winhighlight = 'markdownError:NormalFloat'
  return M.state.win
end

--- Close the answer window; it stays closed while the runs going on now stream (they
--- still write to it: `:PunieAnswers` shows them) and opens again with the next run.
function M.close()
  dismissed = true
  if M.state.win and vim.api.nvim_win_is_valid(M.state.win) then
    vim.api.nvim_win_close(M.state.win, true)
  end
  M.state.win = nil
end

local function refresh_footer()
  local win = M.state.win
  if win and vim.api.nvim_win_is_valid(win) then
    local f = footer()
    pcall(vim.api.nvim_win_set_config, win, f and { footer = f, footer_pos = 'left' } or { footer = '' })
  end
end

local function scroll_to(row)
  local win = M.state.win
  if win and vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_set_cursor(win, { row + 1, 0 })
  end
end

--- The last line of `section` (0-based), or nil when its mark is gone (:PunieReset).
local function section_end(buf, section)
  if not section or not section.mark then
    return nil
  end
  local at = vim.api.nvim_buf_get_extmark_by_id(buf, NS, section.mark, {})
  return at[1]
end

--- Append `text` to the answer buffer; `join` continues the last line (streamed text).
--- With `section`, the text goes at the end of that run's part, not of the buffer.
local function write(text, join, section)
  local buf = answer_buf()
  local lines = vim.split(text, '\n', { plain = true })
  local count = vim.api.nvim_buf_line_count(buf)
  local first = vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1]
  local empty = count == 1 and first == ''
  local last = section_end(buf, section) or (count - 1)
  local row -- the last line written
  if empty then
    vim.api.nvim_buf_set_lines(buf, 0, 1, false, lines)
    row = #lines - 1
  elseif join then
    local line = vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1]
    lines[1] = line .. lines[1]
    vim.api.nvim_buf_set_lines(buf, last, last + 1, false, lines)
    row = last + #lines - 1
  else
    vim.api.nvim_buf_set_lines(buf, last + 1, last + 1, false, lines)
    row = last + #lines
  end
  if section then
    section.mark = vim.api.nvim_buf_set_extmark(buf, NS, row, 0, { id = section.mark })
  end
  if not dismissed then
    M.open()
  end
  scroll_to(row)
end

--- Lines of the answer buffer (for tests and for copying an answer).
function M.lines()
  return vim.api.nvim_buf_get_lines(answer_buf(), 0, -1, false)
end

--- Show one `punie/message {conversationId, kind, text, token}` in its run's part.
function M.show(message)
  local kind, text = message.kind, message.text or ''
  local token = message.token
  local section = sections[token ~= vim.NIL and token or latest] or sections[latest]
  if not section then
    section = { streamed = false, answered = false }
  end
  if kind == 'text' then
    write(text, section.streamed, section)
    section.streamed, section.answered = true, true
    return
  end
  if kind == 'answer' then
    section.answered = true
    if not section.streamed then
      write('', false, section)
      write(text, false, section)
    end
  elseif kind == 'code' then
    write('```python\n' .. vim.trim(text) .. '\n```', false, section)
  elseif kind == 'toolCall' then
    write('→ ' .. vim.trim(text), false, section)
  elseif kind == 'toolResult' then
    write('← ' .. vim.trim(text), false, section)
  else
    write(text, false, section)
  end
  section.streamed = false
end

-- -- the client -------------------------------------------------------------------------

--- The punie-lsp client of `bufnr` (default: current buffer), or nil.
function M.client(bufnr)
  return vim.lsp.get_clients({ name = NAME, bufnr = bufnr or 0 })[1]
end

local function need_client()
  local client = M.client()
  if not client then
    vim.notify('Punie: punie-lsp is not attached to this buffer (:checkhealth vim.lsp)', vim.log.levels.ERROR)
  end
  return client
end

--- An LSP range covering lines `line1`..`line2` (1-based, inclusive) of `bufnr`.
function M.line_range(bufnr, line1, line2, encoding)
  local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ''
  return {
    start = { line = line1 - 1, character = 0 },
    ['end'] = { line = line2 - 1, character = vim.str_utfindex(last, encoding or 'utf-16') },
  }
end

--- Run one agent command: progress in the footer and vim.notify, the answer streamed
--- into the window by `punie/message`, the result's answer shown if nothing streamed.
function M.run(command, args, on_done)
  local client = need_client()
  if not client then
    return
  end
  tokens = tokens + 1
  local token = 'punie-nvim-' .. tokens
  M.state.running[token] = command
  local section = { streamed = false, answered = false }
  sections[token], latest = section, token
  dismissed = false
  local label = args.prompt
  if not label then
    local where = args.uri and vim.fn.fnamemodify(vim.uri_to_fname(args.uri), ':.') or ''
    if args.range then
      where = where .. ':' .. (args.range.start.line + 1)
    end
    label = (AGENT[command] or command):gsub('^%l', string.upper) .. ' ' .. where
  end
  -- At the end of the window, after a blank line (none in an empty window); its
  -- messages then go under this heading, whatever other runs write meanwhile.
  write('', false)
  write('## ' .. label, false)
  local buf = answer_buf()
  section.mark = vim.api.nvim_buf_set_extmark(buf, NS, vim.api.nvim_buf_line_count(buf) - 1, 0, {})
  if M.config.notify then
    vim.notify('Punie: ' .. (AGENT[command] or command) .. '…', vim.log.levels.INFO)
  end
  local params = { command = command, arguments = { args }, workDoneToken = token }
  local finished = false
  local function done(err, result)
    if finished then
      return
    end
    finished = true
    pending[token] = nil
    M.state.running[token] = nil
    progress_of[token] = nil
    M.state.progress = select(2, next(progress_of))
    refresh_footer()
    local function say(text)
      write(text, false, section)
    end
    if err then
      say('**Error:** ' .. (err.message or vim.inspect(err)))
      vim.notify('Punie ' .. command .. ' failed: ' .. (err.message or ''), vim.log.levels.ERROR)
    else
      result = result or {}
      M.state.last_result = result
      if command == 'punie.ask' and result.conversationId then
        M.state.conversation_id = result.conversationId
      end
      if not section.answered and result.answer and result.answer ~= '' then
        -- nothing streamed: show the answer the result carries
        say(result.answer)
      end
      local edits = result.edits and #result.edits or 0
      local note = ('_%s; %d edit%s%s_'):format(
        result.outcome or 'done',
        edits,
        edits == 1 and '' or 's',
        result.applied and ' applied' or (result.reason and (': ' .. result.reason) or '')
      )
      say(note)
      if result.error and result.outcome ~= 'ok' then
        -- a failed run: the server's own words (what failed and what to do), not just the outcome
        say('**Error:** ' .. result.error)
        local level = result.outcome == 'cancelled' and vim.log.levels.WARN or vim.log.levels.ERROR
        vim.notify('Punie ' .. command .. ' failed: ' .. result.error, level)
      elseif M.config.notify then
        vim.notify('Punie: ' .. (result.outcome or 'done'), vim.log.levels.INFO)
      end
    end
    sections[token] = nil
    if on_done then
      on_done(err, result)
    end
  end
  pending[token] = { client = client.id, done = done }
  client:request('workspace/executeCommand', params, function(err, result)
    -- after the punie/message callbacks already queued, so the answer comes last
    vim.schedule(function()
      done(err, result)
    end)
  end, vim.api.nvim_get_current_buf())
  return token
end

--- Cancel every running agent command (their progress is cancellable).
function M.cancel()
  local client = M.client()
  for token in pairs(M.state.running) do
    if client then
      client:notify('window/workDoneProgress/cancel', { token = token })
    end
  end
end

local function with_range(opts, bufnr, client)
  local args = { uri = vim.uri_from_bufnr(bufnr) }
  if opts.range and opts.range > 0 then
    args.range = M.line_range(bufnr, opts.line1, opts.line2, client.offset_encoding)
  end
  return args
end

function M.ask(prompt, opts)
  opts = opts or {}
  local client = need_client()
  if not client then
    return
  end
  local function go(text)
    if not text or vim.trim(text) == '' then
      return
    end
    local args = with_range(opts, 0, client)
    args.prompt = text
    args.conversationId = M.state.conversation_id
    return M.run('punie.ask', args)
  end
  if prompt and prompt ~= '' then
    return go(prompt)
  end
  vim.ui.input({ prompt = 'Ask Punie: ' }, go)
end

--- The diagnostic under the cursor (or in the range) as the server sent it.
local function lsp_diagnostic(bufnr, line1, line2)
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = d.user_data and d.user_data.lsp
    if lsp and d.lnum + 1 >= line1 and d.lnum + 1 <= line2 then
      return lsp
    end
  end
end

function M.fix(opts)
  opts = opts or {}
  local client = need_client()
  if not client then
    return
  end
  local line1, line2 = opts.line1 or vim.fn.line('.'), opts.line2 or vim.fn.line('.')
  local args = { uri = vim.uri_from_bufnr(0), range = M.line_range(0, line1, line2, client.offset_encoding) }
  local diagnostic = lsp_diagnostic(0, line1, line2)
  if diagnostic then
    args.diagnostic = diagnostic
    args.range = diagnostic.range
  end
  return M.run('punie.fix', args)
end

local function on_lines(command)
  return function(opts)
    opts = opts or {}
    local client = need_client()
    if not client then
      return
    end
    local line1, line2 = opts.line1 or vim.fn.line('.'), opts.line2 or vim.fn.line('.')
    return M.run(command, { uri = vim.uri_from_bufnr(0), range = M.line_range(0, line1, line2, client.offset_encoding) })
  end
end

M.explain = on_lines('punie.explain')
M.write_tests = on_lines('punie.writeTests')

function M.reset()
  local client = M.client()
  local id = M.state.conversation_id
  M.state.conversation_id = nil
  vim.api.nvim_buf_clear_namespace(answer_buf(), NS, 0, -1)
  vim.api.nvim_buf_set_lines(answer_buf(), 0, -1, false, {})
  if client and id then
    client:request('workspace/executeCommand', { command = 'punie.resetConversation', arguments = { { conversationId = id } } }, function() end)
  end
  vim.notify('Punie: new conversation', vim.log.levels.INFO)
end

function M.status()
  local client = need_client()
  if not client then
    return
  end
  client:request('workspace/executeCommand', { command = 'punie.status', arguments = { {} } }, function(err, result)
    if err then
      vim.notify('Punie status failed: ' .. err.message, vim.log.levels.ERROR)
      return
    end
    M.state.last_status = result
    local ty = result.ty or {}
    local model = result.model or {}
    local state = ''
    if type(model.error) == 'string' then
      state = ' (failed: ' .. model.error .. ')' -- why it could not load, or its last failure
    elseif model.loading then
      state = ' (loading…)'
    elseif model.loaded == false then
      state = ' (not loaded yet)'
    end
    vim.notify(
      ('punie-lsp %s · ty %s (%s) · model %s%s'):format(
        result.version or '?',
        ty.version or '?',
        ty.state or '?',
        model.name or model.model or '?',
        state
      ),
      type(model.error) == 'string' and vim.log.levels.WARN or vim.log.levels.INFO
    )
  end)
end

--- For 'statusline': the running command's latest progress, or ''.
function M.statusline()
  if next(M.state.running) == nil then
    return ''
  end
  return 'Punie: ' .. (M.state.progress or '…')
end

-- -- LSP wiring ---------------------------------------------------------------------------

local function on_message(_, message)
  if type(message) == 'table' then
    vim.schedule(function()
      M.show(message)
    end)
  end
end

--- The server is gone: every command it was running ends now, saying so.
local function on_exit(code, signal, client_id)
  vim.schedule(function()
    for _, run in pairs(vim.deepcopy(pending)) do
      if run.client == client_id then
        run.done({
          message = ('punie-lsp stopped (exit code %d, signal %d) before it answered: the run is lost; '
            .. 'see the log (:checkhealth vim.lsp), then ask again'):format(code, signal),
        })
      end
    end
  end)
end

--- `workspace/diagnostic/refresh`: punie-lsp asks for it when ty restarted with new
--- settings (say a rule turned off), so pulled diagnostics follow them. Neovim 0.11 and
--- 0.12 do not handle it (they pull only after an edit): each buffer attached to the
--- client pulls again, as Neovim does after an edit.
local function refresh_diagnostics(_, _, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client then
    for bufnr in pairs(client.attached_buffers) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        local params = { textDocument = vim.lsp.util.make_text_document_params(bufnr) }
        client:request('textDocument/diagnostic', params, nil, bufnr)
      end
    end
  end
  return vim.NIL
end

local function on_progress(ev)
  local client = vim.lsp.get_client_by_id(ev.data.client_id)
  if not client or client.name ~= NAME then
    return
  end
  local params = ev.data.params or {}
  local value = params.value or {}
  local token = params.token or ''
  if value.kind == 'end' then
    progress_of[token] = nil
    M.state.progress = select(2, next(progress_of))
  elseif value.message or value.title then
    progress_of[token] = value.message or value.title
    M.state.progress = progress_of[token]
  end
  refresh_footer()
  vim.cmd.redrawstatus({ bang = true })
end

--- The buffers an edit targets, with their change ticks (-1: not loaded yet).
local function targets(edit)
  local ticks = {}
  local function add(uri)
    local buf = vim.fn.bufnr(vim.uri_to_fname(uri))
    ticks[uri] = (buf > 0 and vim.api.nvim_buf_is_loaded(buf)) and vim.api.nvim_buf_get_changedtick(buf) or -1
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument and change.edits and #change.edits > 0 then
      add(change.textDocument.uri)
    end
  end
  for uri, edits in pairs(edit.changes or {}) do
    if #edits > 0 then
      add(uri)
    end
  end
  return ticks
end

--- `workspace/applyEdit` as Neovim applies it, then two fixes:
--- - Neovim answers `applied: true` when the user declined its "Apply all changes?"
---   (edits that need confirmation): an edit that changed none of its buffers was not
---   applied, and punie is told so (else it reported "1 edit applied");
--- - Neovim holds an empty buffer as one empty line (sent as "\n" with 'eol'), so a file
---   punie creates (CreateFile, then its whole text inserted) kept that line after the
---   text: a blank line more on :write. A created file whose inserted text ends with a
---   line break loses that last empty line.
local function apply_edit(err, params, ctx, config)
  local before = params and params.edit and targets(params.edit) or {}
  local result = vim.lsp.handlers['workspace/applyEdit'](err, params, ctx, config)
  if not (result and result.applied and params and params.edit) then
    return result
  end
  if next(before) then
    local changed = false
    for uri, tick in pairs(before) do
      local buf = vim.fn.bufnr(vim.uri_to_fname(uri))
      -- A buffer Neovim loaded for the edit changed if the edit made it modified.
      if buf > 0 and vim.api.nvim_buf_is_loaded(buf) then
        local now = vim.api.nvim_buf_get_changedtick(buf)
        if (tick == -1 and vim.bo[buf].modified) or (tick ~= -1 and now ~= tick) then
          changed = true
        end
      end
    end
    if not changed then
      return { applied = false, failureReason = 'declined' }
    end
  end
  local created = {}
  for _, change in ipairs(params.edit.documentChanges or {}) do
    if change.kind == 'create' then
      created[change.uri] = true
    elseif change.textDocument and created[change.textDocument.uri] then
      local edits = change.edits or {}
      local text = edits[#edits] and edits[#edits].newText or ''
      local buf = vim.uri_to_bufnr(change.textDocument.uri)
      local count = vim.api.nvim_buf_line_count(buf)
      local last = vim.api.nvim_buf_get_lines(buf, count - 1, count, false)[1]
      if count > 1 and last == '' and text:match('[\r\n]$') and vim.bo[buf].eol then
        vim.api.nvim_buf_set_lines(buf, count - 1, count, false, {})
      end
    end
  end
  return result
end

--- Code actions carry punie's commands; run them here so they stream like the commands.
local function code_action_command(command, ctx)
  local args = vim.deepcopy((command.arguments or {})[1] or {})
  local cmd = command.command
  local function go()
    local buf = ctx and ctx.bufnr or 0
    vim.api.nvim_buf_call(buf, function()
      M.run(cmd, args)
    end)
  end
  if cmd == 'punie.ask' and not args.prompt then
    vim.ui.input({ prompt = 'Ask Punie about the selection: ' }, function(text)
      if text and vim.trim(text) ~= '' then
        args.prompt = text
        go()
      end
    end)
  else
    go()
  end
end

local function map_keys(bufnr)
  local keys = M.config.keys
  if not keys then
    return
  end
  local function map(lhs, modes, rhs, desc)
    if lhs then
      vim.keymap.set(modes, lhs, rhs, { buffer = bufnr, desc = desc })
    end
  end
  map(keys.ask, 'n', '<cmd>PunieAsk<cr>', 'Punie: ask')
  map(keys.ask, 'x', ':PunieAsk<cr>', 'Punie: ask about the selection')
  map(keys.fix, { 'n', 'x' }, ':PunieFix<cr>', 'Punie: fix')
  map(keys.explain, { 'n', 'x' }, ':PunieExplain<cr>', 'Punie: explain')
  map(keys.write_tests, { 'n', 'x' }, ':PunieWriteTests<cr>', 'Punie: write tests')
end

local function user_commands()
  local function cmd(name, fn, opts)
    vim.api.nvim_create_user_command(name, fn, opts)
  end
  cmd('PunieAsk', function(o)
    M.ask(o.args, o)
  end, { nargs = '*', range = true, desc = 'Ask Punie (about the range, if given)' })
  cmd('PunieFix', function(o)
    M.fix(o)
  end, { range = true, desc = 'Punie: fix the diagnostic on this line (or range)' })
  cmd('PunieExplain', function(o)
    M.explain(o)
  end, { range = true, desc = 'Punie: explain the range' })
  cmd('PunieWriteTests', function(o)
    M.write_tests(o)
  end, { range = true, desc = 'Punie: write tests for the range' })
  cmd('PunieStatus', M.status, { desc = 'Punie: server, ty and model status' })
  cmd('PunieReset', M.reset, { desc = 'Punie: start a new conversation' })
  cmd('PunieCancel', M.cancel, { desc = 'Punie: cancel running commands' })
  cmd('PunieAnswers', function()
    dismissed = false
    M.open()
  end, { desc = 'Punie: show the answer window' })
end

--- Whether `root` (a client's root folder) is one of `config.trusted` or inside one.
local function trusted(root)
  if not root then
    return false
  end
  local function real(path)
    path = vim.fs.normalize(vim.fn.fnamemodify(vim.fn.expand(path), ':p'))
    return (vim.uv.fs_realpath(path) or path):gsub('/$', '')
  end
  local here = real(root)
  for _, folder in ipairs(M.config.trusted or {}) do
    local top = real(folder)
    if here == top or here:sub(1, #top + 1) == top .. '/' then
      return true
    end
  end
  return false
end

--- `workspace/configuration` as Neovim answers it (from the client's `settings`), except
--- the `punie` section asked for one folder (`scopeUri`): its `trust` says whether that
--- folder is in `trusted`. punie-lsp asks so for each workspace folder, so a folder added
--- to a trusted project's client (`vim.lsp.buf.add_workspace_folder()`, after which
--- Neovim also sends that folder's files to the same client) is not trusted with it.
local function configuration(err, params, ctx, config)
  local result = vim.lsp.handlers['workspace/configuration'](err, params, ctx, config)
  if type(result) ~= 'table' then
    return result
  end
  for i, item in ipairs(params.items or {}) do
    if item.section == 'punie' and type(item.scopeUri) == 'string' then
      local section = {}
      if type(result[i]) == 'table' then
        for key, value in pairs(result[i]) do
          section[key] = value
        end
      end
      section.trust = trusted(vim.uri_to_fname(item.scopeUri))
      result[i] = section
    end
  end
  return result
end

--- Settings are JSON objects at every depth, but Lua cannot tell an empty table from an
--- empty list and vim.json sends `{}` as `[]` (ty then drops its whole section, as it
--- did for `ty = { inlayHints = {} }`). Every empty table becomes vim.empty_dict(); a
--- list with items stays a list. (punie-lsp also reads `[]` as `{}` where it expects one.)
local function objects(value)
  if type(value) ~= 'table' then
    return value
  end
  if next(value) == nil then
    return vim.empty_dict()
  end
  local out = {}
  for key, item in pairs(value) do
    out[key] = objects(item)
  end
  return out
end

function M.setup(opts)
  if vim.fn.has('nvim-0.11') ~= 1 then
    vim.notify('punie.nvim needs Neovim 0.11 or newer', vim.log.levels.ERROR)
    return
  end
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  local settings = objects(M.config.settings or {})
  local commands = {}
  for name in pairs(AGENT) do
    commands[name] = code_action_command
  end
  vim.lsp.config(NAME, {
    cmd = M.config.cmd,
    cmd_env = M.config.cmd_env,
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    settings = settings,
    init_options = settings,
    -- Trust is per project: only the client of a trusted root gets `punie.trust`. Each
    -- client has its own copy of this config (vim.lsp.enable copies it), and its
    -- `settings` are what Neovim sends after `initialize` and answers
    -- workspace/configuration with.
    before_init = function(params, config)
      if trusted(config.root_dir) then
        for _, options in ipairs({ config.settings, params.initializationOptions }) do
          if type(options) == 'table' then
            options.punie = options.punie or {}
            options.punie.trust = true
          end
        end
      end
    end,
    commands = commands,
    -- Merged into Neovim's own capabilities: tells punie-lsp this client shows
    -- `punie/message`, so it does not also send answers as window/showMessage, and
    -- that it pulls diagnostics again on `workspace/diagnostic/refresh`.
    capabilities = {
      experimental = { punieMessages = true },
      workspace = { diagnostics = { refreshSupport = true } },
    },
    handlers = {
      ['punie/message'] = on_message,
      ['workspace/applyEdit'] = apply_edit,
      ['workspace/diagnostic/refresh'] = refresh_diagnostics,
      ['workspace/configuration'] = configuration,
    },
    on_exit = on_exit,
  })
  vim.lsp.enable(NAME)
  local group = vim.api.nvim_create_augroup('punie', { clear = true })
  vim.api.nvim_create_autocmd('LspProgress', { group = group, callback = on_progress })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == NAME then
        map_keys(ev.buf)
      end
    end,
  })
  user_commands()
end

M.config = vim.deepcopy(defaults)

return M
