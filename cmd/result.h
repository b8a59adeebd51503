/*
 * One result model, two renderings. A listing command fills a vs_result:
 * typed columns declared once in a table (as options are), rows of typed
 * cells, optionally a forest over the rows (snapshot-list --tree) and
 * top-level members; then it prints the result either as virsh prints it
 * (a table, names, the drawn tree, "Label:" fields) or, with --json, as
 * JSON. Both renderings read the same cells, so they cannot disagree.
 *
 * JSON (version 1, documented in vsnap(1) "JSON OUTPUT"): one object on one
 * line, {"version":1, "domain":D, <head members>..., <member>:[rows]} (or
 * <member>:{row} for a single-row result); a row is an object of its
 * columns that have a key; an absent value is null; times are seconds
 * since the epoch; strings are the bytes vsnap holds (UTF-8, as the XML
 * they come from), escaped as JSON requires. With a forest each row has
 * "children": [rows], and only the roots are listed at the top.
 */
#ifndef VSNAP_RESULT_H
#define VSNAP_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include "cmd.h"

#define VS_JSON_VERSION 1

typedef enum vs_rtype {
    VS_RT_STR,      /* text; JSON string */
    VS_RT_INT,      /* decimal; JSON number */
    VS_RT_BOOL,     /* yes / no; JSON true / false */
    VS_RT_TIME,     /* virsh's local time; JSON seconds since the epoch */
    VS_RT_STRV,     /* comma-separated; JSON array of strings */
} vs_rtype;

typedef struct vs_rcol {
    const char *key;        /* JSON member; NULL: text only */
    vs_rtype type;
    const char *header;     /* text table header; NULL: not a table column */
    const char *label;      /* text field label ("Name:"); NULL: not a field */
    const char *none;       /* text of an absent value ("", "-") */
} vs_rcol;

typedef struct vs_rcell {
    bool set;
    bool borrowed;          /* s is not the cell's own (vs_result_str_ref) */
    char *s;                /* STR */
    long long i;            /* INT, BOOL, TIME */
    char **v;               /* STRV, NULL-terminated */
} vs_rcell;

typedef struct vs_result {
    const char *member;     /* JSON member of the rows; NULL: no rows */
    bool single;            /* the rows are one object (snapshot-info) */
    char *domain;           /* JSON "domain", NULL: none */
    const vs_rcol *cols;
    size_t ncols;
    vs_rcell *cells;        /* nrows * ncols; with a row source one row, the scratch */
    size_t nrows, cap;
    struct vs_rsource *src; /* rows filled on demand (vs_result_set_source), or NULL */
    long *parent;           /* forest: each row's parent row, -1 for a root; NULL: none */
    const vs_rcol *head;    /* top-level members, JSON only */
    size_t nhead;
    vs_rcell *headv;
} vs_result;

/* The head's pseudo row, for the setters. */
#define VS_RHEAD ((size_t)-1)

/* Start an empty result (cols and member are borrowed; domain copied, may be NULL). */
void vs_result_init(vs_result *r, const char *member, const vs_rcol *cols, size_t ncols,
                    const char *domain);
/* Declare the top-level members (borrowed). */
void vs_result_set_head(vs_result *r, const vs_rcol *head, size_t nhead);
/* Append an empty row; returns its index. */
size_t vs_result_add_row(vs_result *r);
/* Fill a cell (row, or VS_RHEAD for a head member); strings are copied,
 * NULL leaves the value absent. */
void vs_result_str(vs_result *r, size_t row, size_t col, const char *s);
/* The same without a copy: s must stay as it is while the cell is used
 * (a row source's strings from a tree it outlives). */
void vs_result_str_ref(vs_result *r, size_t row, size_t col, const char *s);
void vs_result_int(vs_result *r, size_t row, size_t col, long long v);
void vs_result_bool(vs_result *r, size_t row, size_t col, bool v);
void vs_result_strv(vs_result *r, size_t row, size_t col, char *const *v);
/*
 * Rows on demand: the result has n rows, and a rendering that reads row k
 * first calls fill(r, k, arg), which sets row k's cells with the setters
 * above into one scratch row (the previous row's values are cleared first).
 * A listing of 50,000 snapshots then holds one row, not 50,000; the
 * renderings read every row as they would stored ones. Call once, on a
 * result with no rows; arg is borrowed and must outlive the renderings.
 */
typedef void vs_result_fill_fn(vs_result *r, size_t row, void *arg);
void vs_result_set_source(vs_result *r, size_t n, vs_result_fill_fn *fill, void *arg);
/* The forest: parent[k] is row k's parent row or -1 (copied, nrows entries). */
void vs_result_set_forest(vs_result *r, const long *parent);
void vs_result_release(vs_result *r);

/* ---- renderings: text as virsh prints it, or JSON ------------------------ */

/* virsh's table of the columns that have a header and whose bit is set in
 * mask (bit k: column k). */
void vs_result_print_table(vs_ctl *ctl, const vs_result *r, unsigned long mask);
/* One value per line: column col, then a tab and column col2 when col2 >= 0
 * and that value is present. */
void vs_result_print_names(vs_ctl *ctl, const vs_result *r, size_t col, long col2);
/* The forest drawn as virsh's --tree draws it, by column col. */
void vs_result_print_tree(vs_ctl *ctl, const vs_result *r, size_t col);
/* Row 0 as "Label:" fields, every column with a label. */
void vs_result_print_fields(vs_ctl *ctl, const vs_result *r);
/* The JSON document, with a newline. */
void vs_result_print_json(vs_ctl *ctl, const vs_result *r);

/* A cell's text as the text renderings show it (caller frees). */
char *vs_result_text(const vs_result *r, size_t row, size_t col);

#endif
