/* Tables and other printed forms shared by the commands. */
#ifndef VSNAP_PRINT_H
#define VSNAP_PRINT_H

#include <stddef.h>
#include <stdio.h>
#include "../lib/buf.h"
#include "cmd.h"

/*
 * virsh's table (A.6 "Table output"): every cell is " " + text; every column
 * but the last padded to its width + 2; a dashed separator of sum(width + 3);
 * header and separator omitted under -q; non-printable bytes shown as \xNN.
 */
typedef struct vs_table vs_table;
vs_table *vs_table_new(const char *const headers[], size_t ncols);
void vs_table_add_row(vs_table *t, const char *const cells[]);   /* cells copied */
void vs_table_print(vs_ctl *ctl, const vs_table *t);
void vs_table_free(vs_table *t);
/* The same table streamed, for rows made on the fly: every row through
 * vs_table_widen first, then vs_table_print_head and each row again through
 * vs_table_print_cells. Nothing of the rows is kept. */
void vs_table_widen(vs_table *t, const char *const cells[]);
/* Or one column at a time, by the width its text takes (vs_table_text_width). */
void vs_table_widen_col(vs_table *t, size_t col, size_t width);
size_t vs_table_text_width(const char *s);
void vs_table_print_head(vs_ctl *ctl, const vs_table *t);
void vs_table_print_cells(vs_ctl *ctl, vs_table *t, const char *const cells[]);

/* snapshot-info style "Label:" padded to 15 columns + " " + value + "\n". */
void vs_print_field(vs_ctl *ctl, const char *label, const char *value);

/* Creation time as virsh prints it: local time "YYYY-MM-DD HH:MM:SS +hhmm". */
void vs_format_time(long long t, char out[64]);
/* strlen of what vs_format_time makes of t, mostly without making it. */
size_t vs_format_time_width(long long t);

/*
 * virsh's --tree drawing (A.6), appended to b: nodes 0..n-1 named names[k],
 * parent[k] the node above k or -1 for a root. Roots and each node's
 * children are drawn in node order, so the caller's order (snapshot-list's
 * selection: by name, or --topological) is the order on the page. With
 * out, what b holds is written there whenever it grows large (a drawing of
 * any size is never held whole); the caller writes out the rest.
 */
void vs_tree_draw(const char *const *names, const long *parent, size_t n, vs_buf *b, FILE *out);

#endif
