/* urial chat page: talks to this server's /v1/chat/completions with stream: true and
 * shows the answer as it arrives. The conversation lives here; every request sends
 * all of it (the server reuses the KV cache of the earlier turns). */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var log = $('log'), input = $('input'), form = $('form'), statusEl = $('status');
  var messages = [], busy = null, modelId = null;

  function headers() {
    var h = { 'Content-Type': 'application/json' };
    var k = sessionStorage.getItem('urial-key');
    if (k) h.Authorization = 'Bearer ' + k;
    return h;
  }
  function needKey() {
    $('keyrow').hidden = false;
    statusEl.textContent = 'This server needs an API key: enter it and send again.';
  }
  $('key').addEventListener('change', function () { sessionStorage.setItem('urial-key', this.value); loadModel(); });

  function bubble(role, text) {
    var d = document.createElement('div');
    d.className = 'msg ' + role;
    d.textContent = text;
    log.appendChild(d);
    log.scrollTop = log.scrollHeight;
    return d;
  }

  function loadModel() {
    fetch('/v1/models', { headers: headers() }).then(function (r) {
      if (r.status === 401) { needKey(); throw new Error('unauthorized'); }
      return r.json();
    }).then(function (j) {
      var m = j.data[0];
      modelId = m.id;
      $('model').textContent = m.id;
      var mode = $('mode');
      if (m.meta && m.meta.mode === 'urial') {
        mode.textContent = 'URIAL prompt: ' + m.meta.format;
        mode.className = 'mode urial';
      } else if (m.meta) {
        mode.textContent = 'template: ' + m.meta.format;
        mode.className = 'mode template';
      }
      statusEl.textContent = '';
    }).catch(function () {});
  }

  /* Server-sent events from a fetch body: "data: {...}" lines separated by blank lines. */
  function readEvents(resp, onData) {
    var reader = resp.body.getReader(), dec = new TextDecoder(), buf = '';
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) return;
        buf += dec.decode(r.value, { stream: true });
        var i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          var ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          ev.split('\n').forEach(function (line) {
            if (line.indexOf('data: ') === 0) onData(line.slice(6));
          });
        }
        return pump();
      });
    }
    return pump();
  }

  function send(text) {
    messages.push({ role: 'user', content: text });
    bubble('user', text);
    var out = bubble('assistant streaming', ''), answer = '', t0 = performance.now(), finish = null, usage = null;
    var ctl = new AbortController();
    busy = ctl;
    $('send').disabled = true;
    $('stop').disabled = false;
    statusEl.textContent = 'generating…';
    var body = { model: modelId || 'urial', messages: messages, stream: true,
                 stream_options: { include_usage: true },
                 max_tokens: parseInt($('max').value, 10) || 256,
                 temperature: parseFloat($('temp').value) || 0 };
    fetch('/v1/chat/completions', { method: 'POST', headers: headers(), body: JSON.stringify(body), signal: ctl.signal })
      .then(function (resp) {
        if (resp.status === 401) { needKey(); throw new Error('the API key was refused'); }
        if (!resp.ok) return resp.json().then(function (j) { throw new Error(j.error ? j.error.message : resp.statusText); });
        return readEvents(resp, function (data) {
          if (data === '[DONE]') return;
          var j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          if (j.usage) usage = j.usage;
          var c = j.choices && j.choices[0];
          if (!c) return;
          if (c.delta && c.delta.content) {
            answer += c.delta.content;
            out.textContent = answer;
            log.scrollTop = log.scrollHeight;
          }
          if (c.finish_reason) finish = c.finish_reason;
        });
      })
      .then(function () {
        messages.push({ role: 'assistant', content: answer });
        var s = ((performance.now() - t0) / 1000).toFixed(1);
        var meta = document.createElement('div');
        meta.className = 'meta';
        meta.textContent = (usage ? usage.completion_tokens + ' tokens, ' : '') + s + ' s' +
          (finish === 'length' ? ' (cut at max tokens)' : '');
        out.appendChild(meta);
        statusEl.textContent = '';
      })
      .catch(function (e) {
        if (e.name === 'AbortError') {
          messages.push({ role: 'assistant', content: answer });
          statusEl.textContent = 'stopped';
        } else {
          messages.pop();
          bubble('error', String(e.message || e));
          statusEl.textContent = '';
        }
      })
      .then(function () {
        out.classList.remove('streaming');
        busy = null;
        $('send').disabled = false;
        $('stop').disabled = true;
        input.focus();
      });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || busy) return;
    input.value = '';
    send(text);
  });
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  $('stop').addEventListener('click', function () { if (busy) busy.abort(); });
  $('reset').addEventListener('click', function () {
    if (busy) busy.abort();
    messages = [];
    log.textContent = '';
    input.focus();
  });
  loadModel();
  input.focus();
})();
