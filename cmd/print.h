/* Tables and other printed forms shared by the commands. */
#ifndef VSNAP_PRINT_H
#define VSNAP_PRINT_H

#include <stddef.h>
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

/* snapshot-info style "Label:" padded to 15 columns + " " + value + "\n". */
void vs_print_field(vs_ctl *ctl, const char *label, const char *value);

/* Creation time as virsh prints it: local time "YYYY-MM-DD HH:MM:SS +hhmm". */
void vs_format_time(long long t, char out[64]);

#endif
