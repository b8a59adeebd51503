/* vsnap: global options, one-shot commands and command strings (the shell is in shell.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "lock.h"
#include "plan_run.h"
#include "mem.h"
#include "progress.h"
#include "parse.h"
#include "path.h"
#include "store.h"

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

/* The lock the table declares for this call: the command's, unless an
 * option given says the call changes (or only reads) the domain. */
static vs_lock_mode
lock_mode(const vs_args *a)
{
    const vs_cmd_def *def = a->def;
    vs_lock_mode mode = VS_LOCK_NONE;
    size_t i;

    if (def->flags & VS_CF_LOCK_EX)
        mode = VS_LOCK_EXCLUSIVE;
    else if (def->flags & VS_CF_LOCK_SH)
        mode = VS_LOCK_SHARED;
    for (i = 0; i < a->nopts; i++) {
        if (!a->v[i].set)
            continue;
        if (def->opts[i].flags & VS_OF_CHANGES)
            return VS_LOCK_EXCLUSIVE;
        if (def->opts[i].flags & VS_OF_READS_ONLY)
            mode = VS_LOCK_SHARED;
    }
    return mode;
}

int
vs_cmd_interrupted(vs_ctl *ctl, vs_dom *d, bool changes, vs_error *err)
{
    vs_error e;
    char *what;

    if (!vs_dom_journal_exists(d))
        return 0;
    if (d->lock_mode == VS_LOCK_NONE) {
        /* Without the lock the journal may be a running plan's: it is an
         * interrupted one only if nobody holds the domain. */
        int wait = d->store->lock_wait, r;

        d->store->lock_wait = 0;
        r = vs_dom_relock(d, VS_LOCK_SHARED, NULL);
        d->store->lock_wait = wait;
        if (r < 0 || !vs_dom_journal_exists(d))
            return 0;
    }
    /* A reader shares the domain with a writer whose plan is running
     * (lock.h): that journal is the running plan's. */
    if (d->lock_mode == VS_LOCK_SHARED && vs_lock_writer_active(d->lock_fd))
        return 0;
    if (changes)
        return vs_plan_refuse_interrupted(d, err);
    vs_error_clear(&e);
    what = vs_plan_describe_interrupted(d, &e);
    vs_print_warning(ctl, "domain '%s' has an %s; what vsnap shows may be half changed: run "
                     "'vsnap snapshot-check %s --repair' to finish or roll it back", d->name,
                     what ? what : "unreadable journal", d->name);
    free(what);
    return 0;
}

bool
vs_cmd_skip_busy(vs_ctl *ctl, const char *cmd, vs_error *err)
{
    if (!ctl->skip_busy || err->code != VS_ERR_BUSY)
        return false;
    if (!ctl->quiet) {
        fflush(ctl->out ? ctl->out : stdout);
        fprintf(stderr, "note: %s skipped: %s\n", cmd, err->msg);
        fflush(stderr);
    }
    vs_error_clear(err);
    return true;
}

void
vs_cmd_done_reading(vs_ctl *ctl)
{
    if (ctl->dom && ctl->dom->lock_mode != VS_LOCK_NONE)
        vs_dom_relock(ctl->dom, VS_LOCK_NONE, NULL);
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
    /* what a waiting command names as the holder of this one's lock */
    vs_lock_set_owner(def->name);
    if (def->flags & VS_CF_DOMAIN) {
        vs_lock_mode mode = lock_mode(a);
        const char *name;
        vs_error err;

        dom_idx = vs_opt_index(def, "domain");
        if (dom_idx < 0 || !check_nonempty(ctl, a, (size_t)dom_idx))
            goto out;
        name = a->v[dom_idx].str;
        vs_error_clear(&err);
        if (!(ctl->dom = vs_dom_open(ctl->store, name, mode, &err))) {
            if (vs_cmd_skip_busy(ctl, def->name, &err))
                ret = 0;
            else if (err.code == VS_ERR_NO_DOMAIN)
                vs_print_error(ctl, "failed to get domain '%s'", name);
            else
                vs_print_error(ctl, "%s", err.msg);
            goto out;
        }
        /* An interrupted operation left the domain half changed: nothing
         * may change it until snapshot-check --repair has finished or
         * rolled back the operation; reading it is allowed, with a warning. */
        if (!(def->flags & VS_CF_REPAIRS) &&
            vs_cmd_interrupted(ctl, ctl->dom, mode == VS_LOCK_EXCLUSIVE, &err) < 0) {
            vs_print_error(ctl, "%s", err.msg);
            goto out;
        }
    }
    for (i = 0; i < a->nopts; i++) {
        if ((int)i != dom_idx && !check_nonempty(ctl, a, i))
            goto out;
    }
    ret = def->run(ctl, a);
    /* a lock taken again on the way (snapshot-edit) */
    if (ret < 0 && vs_cmd_skip_busy(ctl, def->name, &ctl->err))
        ret = 0;
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
 * line unless -q, and quit/exit end the sequence there. The store keeps the
 * domains the sequence opens until it ends (vs_store_hold).
 */
static int
run_calls(vs_ctl *ctl, const vs_call_list *l)
{
    vs_store *held = ctl->store;
    int ret = 0;
    size_t i;

    if (held)
        vs_store_hold(held);
    for (i = 0; i < l->n; i++) {
        ret = run_call(ctl, &l->calls[i]);
        if (ctl->quit)
            break;
        if (!(l->calls[i].def->flags & VS_CF_NO_NEWLINE))
            vs_out_extra(ctl, "\n");
    }
    if (held)
        vs_store_release(held);
    return ret;
}

int
vs_run_string(vs_ctl *ctl, const char *line)
{
    vs_call_list l = { NULL, 0, 0 };
    vs_error err;
    int ret;

    vs_error_clear(&err);
    if (vs_parse_string(line, &l, &err) < 0) {
        vs_print_error(ctl, "%s", err.msg);
        return -1;
    }
    ret = run_calls(ctl, &l);
    vs_call_list_clear(&l);
    return ret;
}

int
vs_run_words(vs_ctl *ctl, char *const words[], size_t nwords)
{
    vs_call_list l = { NULL, 0, 0 };
    vs_error err;
    int ret = 0;
    size_t i;

    vs_error_clear(&err);
    if (vs_parse_argv(words, nwords, &l, &err) < 0) {
        vs_print_error(ctl, "%s", err.msg);
        return -1;
    }
    for (i = 0; i < l.n && ret == 0; i++)
        ret = run_call(ctl, &l.calls[i]);
    vs_call_list_clear(&l);
    return ret;
}

/* `vsnap complete` runs under bash's completion: it must never prompt,
 * never write to the terminal behind the prompt, and never fail. */
static void
silence_for_completion(void)
{
    int fd = open("/dev/null", O_RDWR);

    if (fd < 0)
        return;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
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
           "    --wait=SECONDS          how long to wait for a busy domain (default 30)\n"
           "    --if-busy=fail|skip     when it stays busy: fail (default), or skip the\n"
           "                            command with a note and exit status 0\n"
           "\n"
           "  Without a command vsnap starts an interactive shell.\n"
           "  Several commands can be given in one string, separated by ';'.\n"
           "\n"
           "  (specify 'vsnap help' for the list of commands,\n"
           "   'vsnap help <command>' for details about a command)\n"
           "\n");
}

/* Progress of long work on stderr, when that is a terminal (progress.h):
 * one line rewritten in place, cleared when the work ends. */
static void
show_progress(void *ctx, const char *what, double percent, bool done)
{
    static int width;
    vs_error safe;
    int n;

    (void)ctx;
    if (done) {
        if (width > 0)
            fprintf(stderr, "\r%*s\r", width, "");
        width = 0;
    } else {
        /* through vs_error for its \xNN encoding of control bytes in paths */
        vs_error_set(&safe, VS_ERR_PLAIN, "%s", what);
        n = fprintf(stderr, "\r%s: %3d%%", safe.msg, (int)percent);
        if (n > width)
            width = n;
    }
    fflush(stderr);
}

/* --wait SECONDS: 0 (try once) up to a day. */
static int
parse_wait(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 86400)
        return -1;
    *out = (int)v;
    return 0;
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
    char *dir_opt = NULL, *wait_opt = NULL, *busy_opt = NULL;
    struct poptOption options[] = {
        { "dir", 'd', POPT_ARG_STRING, &dir_opt, 'd', "metadata directory", "DIR" },
        { "wait", 0, POPT_ARG_STRING, &wait_opt, 'w', "seconds to wait for a busy domain",
          "SECONDS" },
        { "if-busy", 0, POPT_ARG_STRING, &busy_opt, 'b', "fail or skip", "fail|skip" },
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
    int rc, status = 0, wait = -1;
    bool completing;

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
            free(wait_opt);
            free(busy_opt);
            return close_stdout();
        case 'v':
            printf("vsnap %s\n", PACKAGE_VERSION);
            poptFreeContext(pc);
            free(dir_opt);
            free(wait_opt);
            free(busy_opt);
            return close_stdout();
        case 'q':
            ctl.quiet = true;
            break;
        case 'd':
        case 'w':
        case 'b':
            break;
        }
    }
    if (rc < -1) {
        fprintf(stderr, "error: %s: %s\n", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
                poptStrerror(rc));
        fprintf(stderr, "Try 'vsnap --help' for more information.\n");
        poptFreeContext(pc);
        free(dir_opt);
        free(wait_opt);
        free(busy_opt);
        return 1;
    }
    if (dir_opt && !*dir_opt) {
        fputs("error: option --dir needs a directory\n", stderr);
        status = 1;
    } else if (wait_opt && parse_wait(wait_opt, &wait) < 0) {
        fprintf(stderr, "error: option --wait needs a number of seconds, 0 or more, not '%s'\n",
                wait_opt);
        status = 1;
    } else if (busy_opt && strcmp(busy_opt, "fail") != 0 && strcmp(busy_opt, "skip") != 0) {
        fprintf(stderr, "error: option --if-busy takes fail or skip, not '%s'\n", busy_opt);
        status = 1;
    }
    ctl.skip_busy = busy_opt && strcmp(busy_opt, "skip") == 0;
    free(wait_opt);
    free(busy_opt);
    if (status) {
        poptFreeContext(pc);
        free(dir_opt);
        return status;
    }

    rest = poptGetArgs(pc);
    while (rest && rest[nrest])
        nrest++;
    completing = nrest > 0 && strcmp(rest[0], "complete") == 0;
    if (completing)
        silence_for_completion();
    else if (!ctl.quiet && isatty(STDERR_FILENO))
        vs_progress_set_sink(show_progress, NULL);

    root = vs_default_root(dir_opt);
    /* A directory the user named must exist (define creates it); vsnap's own
     * default may not exist yet for a new user. */
    if (!(ctl.store = vs_store_open(root, vs_default_root_is_implicit(dir_opt) ?
                                    VS_STORE_MAY_BE_ABSENT : 0, &err))) {
        fprintf(stderr, "error: %s\n", err.msg);
        status = 1;
        goto out;
    }
    if (wait >= 0)
        ctl.store->lock_wait = wait;

    if (nrest == 0) {
        vs_shell_run(&ctl);
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
    return completing ? 0 : status;
}
