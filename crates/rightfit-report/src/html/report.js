// rightfit HTML report: the per-example filters. The table rows are built once; filtering only
// toggles their `hidden` attribute. The URL fragment sets the filters on load (and on change):
//   #cand=NAME&only=all|wrong|failed|disagree&q=TEXT
// Each row's data-s holds one outcome code per candidate column (r right, p partial, w wrong,
// u unparseable, f failed, n not scored, - no record); data-d is 1 where candidates disagree.
(function () {
  'use strict';
  var NOT_RIGHT = { w: true, p: true, u: true, f: true };

  function fromHash() {
    var params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
    return {
      q: params.get('q') || '',
      cand: params.get('cand') || '',
      only: params.get('only') || 'all'
    };
  }

  function hasOption(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) return true;
    }
    return false;
  }

  function Filter(section) {
    var table = section.querySelector('table.examples');
    var box = section.querySelector('.filters');
    if (!table || !box || !table.tBodies.length) return null;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var text = rows.map(function (r) { return r.textContent.toLowerCase(); });
    var states = rows.map(function (r) { return (r.getAttribute('data-s') || '').split(' '); });
    var disagree = rows.map(function (r) { return r.getAttribute('data-d') === '1'; });
    var q = box.querySelector('.f-q');
    var cand = box.querySelector('.f-cand');
    var only = box.querySelector('.f-only');
    var count = box.querySelector('.f-count');

    function cellMatches(s, c, test) {
      if (c >= 0) return test(s[c]);
      for (var k = 0; k < s.length; k++) if (test(s[k])) return true;
      return false;
    }

    function matches(i, needle, c, mode) {
      if (needle && text[i].indexOf(needle) < 0) return false;
      if (mode === 'wrong') return cellMatches(states[i], c, function (x) { return NOT_RIGHT[x] === true; });
      if (mode === 'failed') return cellMatches(states[i], c, function (x) { return x === 'f'; });
      if (mode === 'disagree') return disagree[i];
      return true;
    }

    function apply() {
      var needle = q.value.trim().toLowerCase();
      var c = cand.selectedIndex - 1;
      var mode = only.value;
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var show = matches(i, needle, c, mode);
        if (rows[i].hidden === show) rows[i].hidden = !show;
        if (show) shown++;
      }
      count.textContent = shown + ' of ' + rows.length + ' examples shown';
      count.setAttribute('data-shown', String(shown));
    }

    function set(state) {
      q.value = state.q;
      cand.value = hasOption(cand, state.cand) ? state.cand : '';
      only.value = hasOption(only, state.only) ? state.only : 'all';
      apply();
    }

    q.addEventListener('input', apply);
    cand.addEventListener('change', apply);
    only.addEventListener('change', apply);
    return { set: set };
  }

  var filters = [];
  var sections = document.querySelectorAll('section.component');
  for (var i = 0; i < sections.length; i++) {
    var f = Filter(sections[i]);
    if (f) filters.push(f);
  }
  function fromFragment() {
    var state = fromHash();
    filters.forEach(function (f) { f.set(state); });
  }
  window.addEventListener('hashchange', fromFragment);
  fromFragment();
})();
