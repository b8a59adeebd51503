/* Command strings and per-command options (virsh-behaviour.md A.0). */
#ifndef VSNAP_PARSE_H
#define VSNAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include "cmd.h"

/* One option's parsed value. ARGV values keep the word position they came
 * from so that named and positional values stay in command-line order. */
typedef struct vs_arg_val {
    bool set;
    char *str;          /* STRING / INT */
    char **argv;        /* ARGV: NULL-terminated */
    size_t *argv_pos;   /* word index of each argv entry */
    size_t nargv;
} vs_arg_val;

struct vs_args {
    const vs_cmd_def *def;
    size_t nopts;
    vs_arg_val *v;      /* one per entry of def->opts, same order */
};

/* One parsed command, ready to run. Owns args. */
typedef struct vs_call {
    const vs_cmd_def *def;
    vs_args *args;
} vs_call;

typedef struct vs_call_list {
    vs_call *calls;
    size_t n, cap;
} vs_call_list;

/* The words of every command in a string: cmds[i] is NULL-terminated. */
typedef struct vs_word_lists {
    char ***cmds;
    size_t n, cap;
} vs_word_lists;

/*
 * Split a command string as virsh does: ';' and newline end a command,
 * blanks separate words, '...' is literal, "..." allows backslash escapes,
 * a backslash outside quotes escapes the next byte, a word starting with '#'
 * comments out the rest of the line. Empty commands are dropped.
 * Errors: "dangling \", "missing \"", "missing '".
 */
int vs_split_string(const char *s, vs_word_lists *out, vs_error *err);
void vs_word_lists_clear(vs_word_lists *w);

/*
 * Parse one command: words[0] is the command name, then its arguments
 * (nwords in all). "--help" anywhere among the options turns the call into
 * `help NAME`. *out is freed with vs_args_free; *def is the command to run.
 * Errors are virsh's parse errors (A.0), without "error: ".
 */
int vs_parse_command(char *const words[], size_t nwords, const vs_cmd_def **def,
                     vs_args **out, vs_error *err);

/* Parse every command of a string / of argv words (one command); nothing is
 * appended to `list` when an error is returned. */
int vs_parse_string(const char *s, vs_call_list *list, vs_error *err);
int vs_parse_argv(char *const words[], size_t nwords, vs_call_list *list, vs_error *err);

void vs_call_list_clear(vs_call_list *list);

vs_args *vs_args_new(const vs_cmd_def *def);
void vs_args_free(vs_args *a);

/* The index of option `name` in def->opts, or -1. */
int vs_opt_index(const vs_cmd_def *def, const char *name);

#endif
