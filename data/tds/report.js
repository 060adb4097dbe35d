/* urial tds report.html — the answers with their tokens coloured by class, a page
 * at a time, a pair at a time, and the tooltip. Embedded in the page by
 * src/tds/report.c; the data is the JSON in <script id="tds-data">:
 *   vocab: {id: text} for every token shown;
 *   pairs: [{label, rank_gt, no_kl, examples: [{id, i (input_index), q (instruction), t}]}]
 * t is a string of numbers in base 32 (digits "0-9a-v", the last digit of each
 * number from "A-Z!#$%()"). A position is  token, rank, qb, qa, kab, kba, ktop,
 * ranked  then the base's top alternatives as (id + 1, q) pairs: two of them when
 * rank = 1 (the first is the ranked token itself), else three. q = round(-100
 * log10 p): p = 10^(-q/100); the KLs in thousandths of a nat, zigzag-coded (2v, or
 * -2v - 1 for v < 0); ranked = the ranked token + 1 when it is not the written one
 * (the aligned model's top token), else 0. The decoded data is window.TDS = {vocab,
 * pairs}, each example with d: [{tok, rank, pb, pa, kab, kba, ktop, ranked, alts:
 * [[id, p]...], c (class 0/1/2)}]. A remote base (urial tds --backend openai):
 * rank_gt K (a rank K + 1 means η > K) and no_kl (KL unknown) on its pair. */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('tds-data').textContent);
  var V = D.vocab, P = D.pairs, PER_PAGE = 20, pair = 0, E = P[0].examples;
  var CLS = ['u', 'm', 's'], NAMES = ['unshifted', 'marginal', 'shifted'];

  function cls(rank) { return rank <= 1 ? 0 : rank <= 3 ? 1 : 2; }
  function prob(q) { return q >= 9999 ? NaN : Math.pow(10, -q / 100); }
  function kl(z) { return (z % 2 ? -(z + 1) / 2 : z / 2) / 1000; }
  function pct(p) {
    if (isNaN(p)) return '?';
    var x = 100 * p;
    return (x >= 10 ? x.toFixed(1) : x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)) + '%';
  }
  function show(text) {
    return JSON.stringify(text == null ? '?' : text).slice(1, -1).replace(/\\"/g, '"');
  }

  var CONT = '0123456789abcdefghijklmnopqrstuv', FIN = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%()';
  function numbers(s) {
    var out = [], v = 0;
    for (var i = 0; i < s.length; i++) {
      var d = FIN.indexOf(s[i]);
      if (d >= 0) { out.push(v * 32 + d); v = 0; } else v = v * 32 + CONT.indexOf(s[i]);
    }
    return out;
  }

  /* the positions of an example as objects (decoded once, kept) */
  function decode(ex) {
    var t = numbers(ex.t), out = [], k = 0, c = [0, 0, 0];
    while (k + 8 <= t.length) {
      var p = { tok: t[k], rank: t[k + 1], pb: prob(t[k + 2]), pa: prob(t[k + 3]), kab: kl(t[k + 4]),
        kba: kl(t[k + 5]), ktop: kl(t[k + 6]), ranked: t[k + 7] ? t[k + 7] - 1 : t[k], alts: [] };
      k += 8;
      if (p.rank === 1) p.alts.push([p.ranked, p.pb]);
      for (var n = p.rank === 1 ? 2 : 3; n > 0; n--, k += 2) if (t[k] > 0) p.alts.push([t[k] - 1, prob(t[k + 1])]);
      p.c = cls(p.rank);
      c[p.c]++;
      out.push(p);
    }
    ex.d = out;
    ex.c = c;
  }
  P.forEach(function (pr) { pr.examples.forEach(decode); });
  window.TDS = { vocab: V, pairs: P, examples: E };
  function shiftedRatio(ex) { return ex.d.length ? ex.c[2] / ex.d.length : 0; }

  var order = E.slice(), page = 0, box = document.getElementById('examples');
  var sel = document.getElementById('sort'), label = document.getElementById('page');
  var psel = document.getElementById('pair');

  function render() {
    var pages = Math.max(1, Math.ceil(order.length / PER_PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    label.textContent = 'page ' + (page + 1) + ' of ' + pages + ' (' + order.length + ' answers)';
    box.textContent = '';
    order.slice(page * PER_PAGE, (page + 1) * PER_PAGE).forEach(function (ex) {
      var div = document.createElement('div');
      div.className = 'ex';
      div.dataset.id = JSON.stringify(ex.id);
      var h = document.createElement('h3');
      h.textContent = 'id ' + JSON.stringify(ex.id);
      var q = document.createElement('p');
      q.className = 'instr';
      q.textContent = ex.q.length > 600 ? ex.q.slice(0, 600) + ' …' : ex.q;
      var st = document.createElement('div');
      st.className = 'stats';
      var n = ex.d.length || 1;
      st.textContent = ex.d.length + ' tokens · unshifted ' + pct(ex.c[0] / n) + ' · marginal ' + pct(ex.c[1] / n) +
        ' · shifted ' + pct(ex.c[2] / n);
      var ans = document.createElement('div');
      ans.className = 'ans';
      ex.d.forEach(function (p, i) {
        var s = document.createElement('span');
        s.className = 't ' + CLS[p.c];
        s.dataset.pos = i;
        s.dataset.rank = p.rank;
        var text = V[p.tok];
        s.textContent = text === undefined ? '?' : text === '\n' ? '↵\n' : text;
        ans.appendChild(s);
      });
      div.append(h, q, st, ans);
      div._ex = ex;
      box.appendChild(div);
    });
  }

  function reorder() {
    order = E.slice();
    if (sel.value === 'most') order.sort(function (a, b) { return shiftedRatio(b) - shiftedRatio(a); });
    if (sel.value === 'least') order.sort(function (a, b) { return shiftedRatio(a) - shiftedRatio(b); });
    page = 0;
    render();
  }
  sel.addEventListener('change', reorder);
  psel.addEventListener('change', function () {
    pair = +psel.value;
    E = P[pair].examples;
    window.TDS.examples = E;
    reorder();
  });
  document.getElementById('prev').addEventListener('click', function () { page--; render(); });
  document.getElementById('next').addEventListener('click', function () { page++; render(); });

  /* the tooltip: η, the two probabilities, KL and the base's top alternatives */
  var tip = document.getElementById('tip');
  box.addEventListener('mouseover', function (ev) {
    var s = ev.target.closest ? ev.target.closest('.t') : null;
    if (!s) return;
    var ex = s.closest('.ex')._ex, p = ex.d[+s.dataset.pos], R = P[pair];
    var eta = R.rank_gt && p.rank > R.rank_gt ? '> ' + R.rank_gt : p.rank;
    var lines = ['η = ' + eta + ' (' + NAMES[p.c] + ')   position ' + s.dataset.pos,
      (p.ranked !== p.tok ? 'written "' + show(V[p.tok]) + '"   ranked: the aligned model\'s top "' + show(V[p.ranked]) + '"'
        : 'token "' + show(V[p.tok]) + '"'),
      'P_base ' + pct(p.pb) + '   P_align ' + pct(p.pa) + (R.no_kl ? '   KL n/a (remote base)'
        : '   KL(align‖base) ' + p.kab.toFixed(3) + '   KL(base‖align) ' + p.kba.toFixed(3)) +
        '   top-30 KL ' + p.ktop.toFixed(3),
      'base top: ' + p.alts.map(function (a) { return '"' + show(V[a[0]]) + '" ' + pct(a[1]); }).join(', ')];
    tip.textContent = lines.join('\n');
    tip.hidden = false;
    var r = s.getBoundingClientRect();
    tip.style.left = Math.min(r.left, window.innerWidth - 440) + 'px';
    tip.style.top = (r.bottom + 6 + 80 > window.innerHeight ? r.top - 80 : r.bottom + 6) + 'px';
  });
  box.addEventListener('mouseout', function (ev) {
    if (ev.target.closest && ev.target.closest('.t')) tip.hidden = true;
  });
  render();
})();
