/* Tab completion from the command table (virsh-behaviour.md E).
 *
 * One engine serves the interactive shell (readline hands it the line before
 * the cursor) and `vsnap complete -- WORDS` (bash hands it the words). Both
 * return the same candidates in the same form, so the shell and bash can
 * never disagree.
 *
 * Completion only reads: domains are opened with a shared lock that is tried
 * once, or with no lock at all when that fails, so a busy domain never makes
 * Tab wait; without a lock the index cache is not rewritten.
 */
#ifndef VSNAP_COMPLETE_H
#define VSNAP_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>
#include "cmd.h"

/*
 * Candidates for the word being typed. Each one replaces the word's text as
 * readline delimits it with word breaks " \t\n;" and quote characters ' and ":
 * - the word has no open quote: the candidate is the whole word, with the
 *   characters the shell grammar treats specially (blanks, quotes, '\', ';',
 *   '#', '$', ...) backslash-escaped;
 * - the word has an open quote: the candidate is what follows that quote,
 *   escaped only as needed inside that kind of quote.
 * Commands and options come in table order, names sorted.
 */
typedef struct vs_completion {
    char **cand;        /* NULL-terminated (never NULL itself); owned */
    size_t n;
    char quote;         /* the word's open quote, 0 if none */
    bool no_space;      /* a single candidate that wants more typed after it
                         * (a directory "dir/", a keyword "snapshot="): don't
                         * append a space or close the quote */
} vs_completion;

/* Shell: `line` is the text before the cursor (command strings, ';', '#'). */
void vs_complete_line(vs_store *st, const char *line, vs_completion *out);

/*
 * `vsnap complete`: words[0] is the command word and words[n-1] the word being
 * typed (possibly empty; n == 0 means an empty line). Each word is one word as
 * the user typed it: quotes and backslashes in it are interpreted as the shell
 * grammar does, blanks inside it are part of it.
 */
void vs_complete_words(vs_store *st, char *const words[], size_t n, vs_completion *out);

void vs_completion_clear(vs_completion *c);

/* The word-break and quote characters the candidates above assume. */
#define VS_COMPLETE_WORD_BREAKS " \t\n;"
#define VS_COMPLETE_QUOTES "'\""

#endif
