// Small templates that exercise Jinja semantics one at a time, rendered by both
// @huggingface/jinja and urial's interpreter (tests/cli/test_chat_ref.sh, via prepare.mjs):
// each must give the same text, or both must fail.

const M = [{ role: "system", content: "Sys" }, { role: "user", content: " Hi " },
           { role: "assistant", content: "Yo" }, { role: "user", content: "Q?" }];
const V = { n: 3, f: 2.5, z: 0, s: "abc", e: "", l: [1, 2, 3], d: { a: 1, b: "x", c: [1, { k: null }] },
            t: true, no: null, big: 1e21, neg: -7, u8: "Ünï 😀 ok", ws: " \t a b \n c  ", tools: [{ type: "function",
            function: { name: "get", description: "Get it", parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } } }] };
const T = [
  // text and whitespace control, trim_blocks / lstrip_blocks as transformers sets them
  "a\n", "a\n\n", "  {% if true %}\nx\n  {% endif %}\nend", "{%- if true -%}  x  {%- endif -%}  ",
  "a  {{- 'b' -}}  c", "a {#- c -#} b", "x {# comment #}\ny", "  {# c #}\nz", "{{ 'a' }}\n{{ 'b' }}\n",
  "line1\n    {%- set x = 1 %}\nline2", "{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\n",
  "a -}\nb", "{% generation %}gen{% endgeneration %}", "x {%- generation -%} y {%- endgeneration -%} z",
  "\t{% if 1 %}t{% endif %}", "{{- 'x' }}", "{%- set a = 1 -%}\n\n{{ a }}",
  // literals, printing and types
  "{{ 1 }} {{ 1.0 }} {{ 1.5 }} {{ -0.0 }} {{ 1e3 if false else 2.50 }}", "{{ true }} {{ false }} {{ none }} {{ None }}|{{ undefinedvar }}|",
  "{{ [1, 'a', none, true, 2.0] }}", "{{ {'a': 1, 'b': [1, 2], 'c': {'d': none}} }}", "{{ (1, 2) }}", "{{ l }} {{ d }}",
  "{{ big }} {{ f * 2 }} {{ 10 / 4 }} {{ 10 / 5 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}",
  "{{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 123456789.125 }} {{ 1e-7 * 1 }}", "{{ 'a' 'b' \"c\" }}", "{{ 'esc\\n\\t\\\\ \\' \\\" \\x41 \\u00e9 \\ud83d\\ude00' }}",
  "{{ n + 1 }} {{ n - 1.5 }} {{ s + 'd' }} {{ s ~ n ~ f ~ t ~ none }}", "{{ s ~ undefinedvar ~ 'x' }}", "{{ 'a' + 1 }} {{ 1 + 'a' }} {{ 'a' + 2.0 }}",
  "{{ 'a' + none }}", "{{ 'a' + undefinedvar }}", "{{ l + [4] }} {{ l + l }}", "{{ 'a' * 2 }}", "{{ true + 1 }}", "{{ -n }} {{ +f }} {{ -true }}",
  // comparisons and logic
  "{{ 1 == 1.0 }} {{ '1' == 1 }} {{ none == undefinedvar }} {{ l == l }} {{ l == [1,2,3] }} {{ d == d }} {{ true == 1 }} {{ '' == 0 }} {{ [] == '' }}",
  "{{ 1 < 2 }} {{ 2.5 >= 2 }} {{ n != 3 }}", "{{ 'a' < 'b' }}", "{{ 1 < 2 < 3 }}", "{{ not 1 == 2 }} {{ not none }} {{ not [] }} {{ not 'x' }}",
  "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ [] or none }} {{ none and 1 }}|{{ '' or [] }}", "{{ 1 if n > 2 else 2 }} {{ 'a' if false }}|{{ 'x' if none else 'y' if 0 else 'z' }}",
  "{{ 'b' in 'abc' }} {{ 'z' not in 'abc' }} {{ 2 in l }} {{ 2.0 in l }} {{ '2' in l }} {{ 'a' in d }} {{ 'q' in undefinedvar }} {{ 'q' not in undefinedvar }}",
  "{{ 1 in 'abc' }}", "{{ 'a' in none }}", "{{ [1] in [[1]] }}", "{{ n > none }}",
  // member access, slices
  "{{ d.a }} {{ d['b'] }} {{ d.c[1].k }} {{ d.zz }}|{{ l[0] }} {{ l[-1] }} {{ l[5] }}|{{ s[1] }} {{ s[-1] }} {{ s.length }} {{ l.length }}",
  "{{ l[1:] }} {{ l[:2] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-2:] }} {{ l[1:1] }} {{ s[1:] }} {{ s[::-1] }} {{ u8[1:4] }} {{ u8[::-1] }}",
  "{{ messages[1:][0].content }} {{ messages[-1]['role'] }}", "{{ undefinedvar.x }}|{{ none.x }}", "{{ undefinedvar[0] }}", "{{ l['a'] }}|", "{{ d[0] }}",
  "{{ l[none:] }}", "{{ d.items is callable }}", "{{ s.upper is defined }}",
  // string methods
  "{{ ws.strip() }}|{{ ws.lstrip() }}|{{ ws.rstrip() }}|{{ '\\nxx\\n'.strip('\\n') }}|", "{{ s.upper() }} {{ 'AbC'.lower() }} {{ 'hello world-foo bar_baz'.title() }} {{ 'don\\'t stop'.title() }} {{ 'hELLO'.capitalize() }}",
  "{{ 'a,b,,c'.split(',') }} {{ ws.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b  c'.split(none, 1) }} {{ 'abc'.split('') }}",
  "{{ 'aXbXc'.replace('X', '-') }} {{ 'aXbXc'.replace('X', '-', 1) }} {{ 'ab'.replace('', '.') }} {{ 'aaa'.replace('a', 'b', count=2) }}",
  "{{ s.startswith('ab') }} {{ s.endswith('bc') }} {{ s.startswith(('x', 'a')) }} {{ s.endswith(1) }}", "{{ s.foo() }}", "{{ s.format(1) }}",
  "{{ u8.upper() }} {{ u8.lower() }} {{ 'ß'.upper() }} {{ u8 | length }}",
  // filters
  "{{ s | upper }} {{ ws | trim }}|{{ l | length }} {{ d | length }} {{ s | length }}", "{{ l | first }} {{ l | last }} {{ l | reverse }} {{ [3,1,2] | sort }} {{ ['b','A','a'] | sort }}",
  "{{ l | join(', ') }} {{ l | join }} {{ s | join('-') }} {{ [1, none, 'a', 2.0, true] | join('|') }}", "{{ l | string }} {{ n | string }} {{ f | string }} {{ t | string }} {{ s | string }}",
  "{{ d | items }} {{ d | tojson }} {{ l | tojson }} {{ s | tojson }} {{ none | tojson }} {{ undefinedvar | tojson }}",
  "{{ tools | tojson }}", "{{ tools[0] | tojson(indent=4) }}", "{{ d | tojson(indent=2) }}", "{{ d | tojson(sort_keys=true) }} {{ u8 | tojson }} {{ u8 | tojson(ensure_ascii=true) }}",
  "{{ {'b': 1, 'a': [], 'c': {}} | tojson(indent=2) }}", "{{ d | tojson(separators=(',', ':')) }}", "{{ '\\u0001\\u007f<>&\\'' | tojson }}",
  "{{ '42' | int }} {{ ' 42abc' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '2.5' | float }} {{ 3 | float }} {{ 3.9 | int }} {{ -3 | abs }} {{ t | int }}",
  "{{ undefinedvar | default('dflt') }} {{ '' | default('e', true) }} {{ s | default('no') }} {{ none | default('n') }}|", "{{ [1,1,2,'1'] | unique }} {{ s | safe }}",
  "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}", "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}",
  "{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='content') | list }}", "{{ messages | selectattr('tool_calls', 'undefined') | list | length }}",
  "{{ messages | selectattr('content') | list | length }}", "{{ messages | map(attribute='role') | join(',') }}", "{{ messages | map('upper') }}",
  "{{ d | dictsort }} {{ d.items() | list }} {{ d.keys() | list }} {{ d.values() }} {{ d.get('a') }} {{ d.get('zz', 'dv') }} {{ d.get('zz') }}",
  "{{ l | selectattr('x') }}", "{{ s | unknownfilter }}", "{{ undefinedvar | length }}", "{{ none | string }}", "{{ s | trim() }}", "{{ l | selectattr }}",
  "{% filter upper %}abc {{ s }}{% endfilter %}", "{{ [{'n': 2}, {'n': 1}] | sort(attribute='n') | map(attribute='n') | list }}", "{{ l | sort(reverse=true) }}",
  // tests
  "{{ n is defined }} {{ zz is defined }} {{ zz is undefined }} {{ no is none }} {{ s is string }} {{ n is number }} {{ f is integer }} {{ n is integer }}",
  "{{ l is iterable }} {{ s is iterable }} {{ d is iterable }} {{ d is mapping }} {{ l is mapping }} {{ l is sequence }} {{ d is sequence }} {{ (1,2) is iterable }}",
  "{{ n is odd }} {{ n is even }} {{ t is true }} {{ t is false }} {{ t is boolean }} {{ s is lower }} {{ 'AB' is upper }} {{ raise_exception is callable }}",
  "{{ n is not none }} {{ s is not string }} {{ n is equalto 3 }}", "{{ s is odd }}", "{{ n is divisibleby(3) }}", "{{ n is foo }}",
  // statements
  "{% set x = 1 %}{% set y, z = [2, 3] %}{{ x }}{{ y }}{{ z }}", "{% set x %}block {{ s }}{% endset %}[{{ x }}]", "{% for x in l %}{% set y = x %}{% endfor %}[{{ y }}]",
  "{% set ns = namespace(c=0, a='') %}{% for x in l %}{% set ns.c = ns.c + x %}{% endfor %}{{ ns.c }} {{ ns }}", "{% set ns = namespace({'a': 1}) %}{{ ns.a }}",
  "{% for x in l %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.previtem }}/{{ loop.nextitem }};{% endfor %}",
  "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "{% for k in d %}{{ k }}{% endfor %}", "{% for c in s %}{{ c }}{% endfor %}",
  "{% for x in [] %}a{% else %}empty{% endfor %}", "{% for x in l if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}", "{% for x in l %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}",
  "{% for x in l %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% else %}E{% endfor %}", "{% for x in l %}{% continue %}{% else %}E{% endfor %}",
  "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", "{% for x in none %}{% endfor %}",
  "{% for m in messages %}{% for c in m.content %}{% endfor %}{% endfor %}", "{% for m in messages %}{% if loop.first %}{{ m.content }}{% elif loop.last %}!{{ m.content }}{% else %}.{% endif %}{% endfor %}",
  "{% if 0 %}a{% elif '' %}b{% elif [] %}c{% else %}d{% endif %}", "{% if n == 3 %}three{% endif %}", "{% set n = 4 %}{{ n }}",
  "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}",
  "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}",
  "{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}inside {{ s }}{% endcall %}", "{% macro m() %}{{ caller(1) }}{% endmacro %}{% call(x) m() %}got {{ x }}{% endcall %}",
  "{% macro f(x) %}{% if x > 0 %}{{ x }}{{ f(x - 1) }}{% endif %}{% endmacro %}{{ f(5) }}", "{% macro m() %}{{ s }}{% endmacro %}{% set s = 'late' %}{{ m() }}",
  "{{ range(3) }} {{ range(1, 4) }} {{ range(5, 0, -2) }}", "{{ raise_exception('Boom: ' ~ n) }}", "{{ raise_exception() }}", "{{ namespace(a=1).a }}", "{{ n() }}",
  // errors the parser must report
  "{% if true %}x", "{% endif %}", "{{ 1 + }}", "{% include 'x' %}", "{{ 'unterminated }}", "{{ x | }}", "{% for %}", "{{ (1, }}", "{% set 1 = 2 %}", "{{ a.'b' }}",
  "{% macro m(a=1, b) %}{% endmacro %}", "{{ f(a=1, 2) }}", "{{ 'a' \\ 'b' }}", "{# unclosed", "{{ 1 }", "{% raw %}x{% endraw %}", "{{ [1, 2 }}", "{% block b %}{% endblock %}",
];
export function semanticsCases() {
    return T.map((t, i) => ({ label: `semantics ${i}: ${JSON.stringify(t).slice(0, 60)}`, template: t, messages: M,
                              add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>", vars: V }));
}
