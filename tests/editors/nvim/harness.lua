-- Shared by the Neovim end-to-end scripts: results go to $PUNIE_TEST_OUT as JSON, the
-- script's steps run in a coroutine-free sequence with vim.wait on conditions, and any
-- error is recorded before Neovim quits (so pytest sees what failed, never a hang).
local H = { results = {}, started = vim.uv.hrtime() }

local function elapsed()
  return (vim.uv.hrtime() - H.started) / 1e9
end

function H.record(key, value)
  H.results[key] = value
end

--- Wait for `predicate`; record a named timeout (and stop the script) if it never holds.
function H.wait(what, timeout_ms, predicate)
  local ok = vim.wait(timeout_ms, predicate, 20)
  if not ok then
    error(('timed out after %.1f s waiting for %s'):format(timeout_ms / 1000, what), 0)
  end
end

--- The punie client attached to the current buffer.
function H.attached(timeout_ms)
  local client
  H.wait('punie-lsp to attach', timeout_ms or 20000, function()
    client = require('punie').client(0)
    return client ~= nil and client.initialized == true
  end)
  return client
end

--- Send a request and wait for its answer.
function H.request(client, method, params, timeout_ms)
  local done, err, result = false, nil, nil
  client:request(method, params, function(e, r)
    done, err, result = true, e, r
  end, vim.api.nvim_get_current_buf())
  H.wait(method, timeout_ms or 20000, function()
    return done
  end)
  if err then
    error(method .. ' failed: ' .. vim.inspect(err), 0)
  end
  return result
end

--- Run `steps()` and write the results (plus any error) to $PUNIE_TEST_OUT, then quit.
function H.run(steps)
  local ok, err = xpcall(steps, debug.traceback)
  if not ok then
    H.results.error = tostring(err)
  end
  H.results.seconds = elapsed()
  H.results.messages = vim.api.nvim_exec2('messages', { output = true }).output
  local f = assert(io.open(os.getenv('PUNIE_TEST_OUT'), 'w'))
  f:write(vim.json.encode(H.results))
  f:close()
  vim.cmd('qall!')
end

return H
