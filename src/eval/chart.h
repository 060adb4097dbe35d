/* Charts as inline SVG for the HTML reports (urial eval report, urial study): each
 * chart is a <figure class="chart"> holding its title, the SVG (axes with their
 * labels) and an HTML legend (<ul class="legend">, one item per series, which wraps
 * instead of being clipped however long the names are). Series names are given
 * unique by the caller (chart_unique_names). Values NAN are missing (no mark). */
#ifndef URIAL_EVAL_CHART_H
#define URIAL_EVAL_CHART_H

#include "urial/base.h"

/* The CSS the charts need (once per page, inside <style>). */
extern const char CHART_CSS[];
/* The colour of series i. */
const char *chart_color(int i);

/* Grouped bars: one group per category cats[0..nc), one bar per series; vals[s * nc + c];
 * the y axis from 0 to ymax, labelled ylabel; the x axis labelled xlabel. */
void chart_bars(ur_buf *o, const char *id, const char *title, const char *xlabel, const char *ylabel, double ymax,
                const char *const *cats, int nc, const char *const *names, const double *vals, int ns);
/* Radar: one axis per aspect axes[0..na) from 0 (centre) to rmax, one polygon per series;
 * vals[s * na + a]. */
void chart_radar(ur_buf *o, const char *id, const char *title, const char *const *axes, int na, double rmax,
                 const char *const *names, const double *vals, int ns);
/* Win / tie / lose: one 100% bar per row rows[0..nr); counts[r * 3 + k] for the parts
 * parts[0..3) (e.g. "A wins", "tie", "B wins"); the x axis (share of pairs) labelled. */
void chart_stack(ur_buf *o, const char *id, const char *title, const char *const *rows, int nr,
                 const char *const *parts, const long *counts);

/* Make names[0..n) unique: a name given to several series gets " (" + detail[i] + ")"
 * (e.g. the file); still equal ones get " #2", " #3". out[i] malloc'ed. */
void chart_unique_names(const char *const *names, const char *const *detail, int n, char **out);

/* HTML-escape s into o. */
void chart_esc(ur_buf *o, const char *s);

#endif
