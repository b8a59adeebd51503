/* vsnap: global options, one-shot commands and command strings, the shell. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "buf.h"
#include "cmd.h"
#include "mem.h"
#include "parse.h"
#include "path.h"
#include "store.h"

#define HISTORY_MAX 500

/* -------------------------------------------------------------- dispatch -- */

static bool
check_nonempty(vs_ctl *ctl, const vs_args *a, size_t i)
{
    const vs_opt_def *o = &a->def->opts[i];

    /* virsh rejects an empty value when the command reads the option, so
     * this is a failure of the command, not a parse error (transcript 10 [44]). */
    if ((o->type == VS_OT_STRING || o->type == VS_OT_INT) && !(o->flags & VS_OF_EMPTY_OK) &&
        a->v[i].set && a->v[i].str[0] == '\0') {
        vs_print_error(ctl, "Failed to get option '%s': Option argument is empty", o->name);
        return false;
    }
    return true;
}

static vs_lock_mode
lock_mode(const vs_cmd_def *def, const vs_args *a)
{
    if (def->run == cmd_snapshot_create_as && vs_arg_bool(a, "print-xml"))
        return VS_LOCK_SHARED;
    if (def->flags & VS_CF_LOCK_EX)
        return VS_LOCK_EXCLUSIVE;
    if (def->flags & VS_CF_LOCK_SH)
        return VS_LOCK_SHARED;
    return VS_LOCK_NONE;
}

/* Run one parsed command: open its domain, run it, print its error. */
static int
run_call(vs_ctl *ctl, const vs_call *call)
{
    const vs_cmd_def *def = call->def;
    const vs_args *a = call->args;
    int dom_idx = -1;
    int ret = -1;
    size_t i;

    vs_error_clear(&ctl->err);
    if (def->flags & VS_CF_DOMAIN) {
        const char *name;
        vs_error err;

        dom_idx = vs_opt_index(def, "domain");
        if (dom_idx < 0 || !check_nonempty(ctl, a, (size_t)dom_idx))
            goto out;
        name = a->v[dom_idx].str;
        vs_error_clear(&err);
        if (!(ctl->dom = vs_dom_open(ctl->store, name, lock_mode(def, a), &err))) {
            if (err.code == VS_ERR_NO_DOMAIN)
                vs_print_error(ctl, "failed to get domain '%s'", name);
            else
                vs_print_error(ctl, "%s", err.msg);
            goto out;
        }
    }
    for (i = 0; i < a->nopts; i++) {
        if ((int)i != dom_idx && !check_nonempty(ctl, a, i))
            goto out;
    }
    ret = def->run(ctl, a);
    if (ret < 0 && ctl->err.code != VS_ERR_OK)
        vs_print_error(ctl, "%s", ctl->err.msg);
 out:
    if (ctl->dom) {
        vs_dom_close(ctl->dom);
        ctl->dom = NULL;
    }
    vs_error_clear(&ctl->err);
    return ret < 0 ? -1 : 0;
}

/*
 * Run a parsed sequence. A failing command does not stop the next; the
 * status is the last command's. After each command virsh prints an empty
 * line unless -q, and quit/exit end the sequence there.
 */
static int
run_calls(vs_ctl *ctl, const vs_call_list *l)
{
    int ret = 0;
    size_t i;

    for (i = 0; i < l->n; i++) {
        ret = run_call(ctl, &l->calls[i]);
        if (ctl->quit)
            break;
        if (!(l->calls[i].def->flags & VS_CF_NO_NEWLINE))
            vs_out_extra(ctl, "\n");
    }
    return ret;
}

/* ----------------------------------------------------------------- shell -- */

static char *
history_path(void)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");

    if (state && state[0] == '/')
        return vs_xasprintf("%s/vsnap/history", state);
    if (home && *home)
        return vs_xasprintf("%s/.local/state/vsnap/history", home);
    return NULL;
}

static void
history_save(const char *path)
{
    char *dir;
    char *slash;

    if (!path)
        return;
    dir = vs_xstrdup(path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    /* History is a convenience: failing to keep it must not fail the shell. */
    if (vs_mkdir_p(dir, 0700, NULL) == 0)
        write_history(path);
    free(dir);
}

/* A line from stdin without a prompt (scripts piping into the shell). */
static char *
read_plain_line(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);

    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

static int
shell_loop(vs_ctl *ctl)
{
    bool tty = isatty(STDIN_FILENO);
    char *hist = NULL;

    ctl->interactive = true;
    if (tty) {
        rl_readline_name = "vsnap";
        stifle_history(HISTORY_MAX);
        hist = history_path();
        if (hist)
            read_history(hist);
        vs_out_extra(ctl, "Welcome to vsnap, the snapshot interactive terminal.\n\n");
        vs_out_extra(ctl, "Type:  'help' for help with commands\n"
                          "       'quit' to quit\n\n");
    }
    while (!ctl->quit) {
        vs_call_list l = { NULL, 0, 0 };
        vs_error err;
        char *line;

        fflush(ctl->out);
        line = tty ? readline("vsnap # ") : read_plain_line();
        if (!line) {
            if (tty)
                vs_out(ctl, "\n");
            break;
        }
        if (tty && line[strspn(line, " \t")] != '\0')
            add_history(line);
        vs_error_clear(&err);
        if (vs_parse_string(line, &l, &err) < 0)
            vs_print_error(ctl, "%s", err.msg);
        else
            run_calls(ctl, &l);
        vs_call_list_clear(&l);
        free(line);
    }
    if (tty)
        history_save(hist);
    free(hist);
    ctl->interactive = false;
    ctl->quit = false;
    return 0;
}

int
cmd_shell(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    if (ctl->interactive)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "the shell is already running");
    return shell_loop(ctl);
}

int
cmd_quit(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    ctl->quit = true;
    return 0;
}

/* virsh's shell quoting: only words with shell metacharacters are quoted. */
static void
add_shell_quoted(vs_buf *b, const char *s)
{
    if (*s == '\0') {
        vs_buf_add(b, "''");
        return;
    }
    if (!strpbrk(s, "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~")) {
        vs_buf_add(b, s);
        return;
    }
    vs_buf_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            vs_buf_add(b, "'\\''");
        else
            vs_buf_addc(b, *s);
    }
    vs_buf_addc(b, '\'');
}

int
cmd_echo(vs_ctl *ctl, const vs_args *a)
{
    char *const *words = vs_arg_argv(a, "string");
    bool shell = vs_arg_bool(a, "shell"), xml = vs_arg_bool(a, "xml");
    vs_buf out = VS_BUF_INIT;
    size_t i;

    for (i = 0; words && words[i]; i++) {
        vs_buf w = VS_BUF_INIT;

        if (i > 0)
            vs_buf_addc(&out, ' ');
        if (xml)
            vs_buf_add_xml_escaped(&w, words[i]);
        else
            vs_buf_add(&w, words[i]);
        if (shell)
            add_shell_quoted(&out, vs_buf_str(&w));
        else
            vs_buf_add(&out, vs_buf_str(&w));
        vs_buf_reset(&w);
    }
    if (vs_arg_bool(a, "err"))
        vs_print_error(ctl, "%s", vs_buf_str(&out));
    else
        vs_out(ctl, "%s", vs_buf_str(&out));
    vs_buf_reset(&out);
    return 0;
}

/* ------------------------------------------------------------------ main -- */

static void
usage(void)
{
    printf("vsnap [options]... [<command_string>]\n"
           "vsnap [options]... <command> [args...]\n"
           "\n"
           "  options:\n"
           "    -d | --dir=DIR          metadata directory (default: $VSNAP_DIR, else\n"
           "                            /var/lib/vsnap for root, else\n"
           "                            ${XDG_DATA_HOME:-~/.local/share}/vsnap)\n"
           "    -h | --help             this help\n"
           "    -q | --quiet            quiet mode\n"
           "    -v | --version          program version\n"
           "\n"
           "  Without a command vsnap starts an interactive shell.\n"
           "  Several commands can be given in one string, separated by ';'.\n"
           "\n"
           "  (specify 'vsnap help' for the list of commands,\n"
           "   'vsnap help <command>' for details about a command)\n"
           "\n");
}

/* Data already written but not flushed must not be lost silently. */
static int
close_stdout(void)
{
    bool bad = fflush(stdout) != 0 || ferror(stdout);

    if (fclose(stdout) != 0)
        bad = true;
    if (bad) {
        fputs("error: write failure on standard output\n", stderr);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    char *dir_opt = NULL;
    struct poptOption options[] = {
        { "dir", 'd', POPT_ARG_STRING, &dir_opt, 'd', "metadata directory", "DIR" },
        { "help", 'h', POPT_ARG_NONE, NULL, 'h', "this help", NULL },
        { "quiet", 'q', POPT_ARG_NONE, NULL, 'q', "quiet mode", NULL },
        { "version", 'v', POPT_ARG_NONE, NULL, 'v', "program version", NULL },
        POPT_TABLEEND
    };
    vs_ctl ctl;
    vs_call_list calls = { NULL, 0, 0 };
    vs_error err;
    poptContext pc;
    const char **rest;
    char *root = NULL;
    size_t nrest = 0;
    int rc, status = 0;

    setlocale(LC_ALL, "");
    memset(&ctl, 0, sizeof(ctl));
    ctl.out = stdout;
    vs_error_clear(&err);

    /* POSIXMEHARDER: options stop at the command name, whose own options
     * are not vsnap's. */
    pc = poptGetContext("vsnap", argc, (const char **)argv, options,
                        POPT_CONTEXT_POSIXMEHARDER);
    while ((rc = poptGetNextOpt(pc)) > 0) {
        switch (rc) {
        case 'h':
            usage();
            poptFreeContext(pc);
            free(dir_opt);
            return close_stdout();
        case 'v':
            printf("vsnap %s\n", PACKAGE_VERSION);
            poptFreeContext(pc);
            free(dir_opt);
            return close_stdout();
        case 'q':
            ctl.quiet = true;
            break;
        case 'd':
            break;
        }
    }
    if (rc < -1) {
        fprintf(stderr, "error: %s: %s\n", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
                poptStrerror(rc));
        fprintf(stderr, "Try 'vsnap --help' for more information.\n");
        poptFreeContext(pc);
        free(dir_opt);
        return 1;
    }
    if (dir_opt && !*dir_opt) {
        fputs("error: option --dir needs a directory\n", stderr);
        poptFreeContext(pc);
        free(dir_opt);
        return 1;
    }

    root = vs_default_root(dir_opt);
    if (!(ctl.store = vs_store_open(root, &err))) {
        fprintf(stderr, "error: %s\n", err.msg);
        status = 1;
        goto out;
    }

    rest = poptGetArgs(pc);
    while (rest && rest[nrest])
        nrest++;
    if (nrest == 0) {
        shell_loop(&ctl);
    } else {
        /* One word is a command string (';', quoting); several words are
         * one command taken as the shell split it, as virsh does. */
        rc = nrest == 1 ? vs_parse_string(rest[0], &calls, &err)
                        : vs_parse_argv((char *const *)rest, nrest, &calls, &err);
        if (rc < 0) {
            fflush(stdout);
            fprintf(stderr, "error: %s\n", err.msg);
            status = 1;
        } else if (run_calls(&ctl, &calls) < 0) {
            status = 1;
        }
        vs_call_list_clear(&calls);
    }

 out:
    vs_store_free(ctl.store);
    free(root);
    poptFreeContext(pc);
    free(dir_opt);
    if (close_stdout() != 0)
        status = 1;
    return status;
}
