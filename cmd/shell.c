/* The interactive shell: `vsnap` with no command, or `vsnap shell`. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cmd.h"
#include "complete.h"
#include "mem.h"
#include "path.h"

#define HISTORY_MAX 500

/* readline's callbacks take no user pointer. */
static vs_ctl *shell_ctl;
static vs_completion shell_matches;
static volatile sig_atomic_t interrupted;

/* ${XDG_STATE_HOME:-~/.local/state}/vsnap/history; NULL when neither is
 * usable (the shell then simply keeps no history). */
static char *
history_path(void)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");

    /* The XDG spec says relative values are invalid and must be ignored. */
    if (state && state[0] == '/')
        return vs_xasprintf("%s/vsnap/history", state);
    if (home && *home)
        return vs_xasprintf("%s/.local/state/vsnap/history", home);
    return NULL;
}

/* History is a convenience: failing to keep it must not fail the shell. */
static bool
history_dir_ready(const char *path)
{
    char *dir = vs_xstrdup(path);
    char *slash = strrchr(dir, '/');
    bool ok = true;

    if (slash && slash != dir) {
        *slash = '\0';
        ok = vs_mkdir_p(dir, 0700, NULL) == 0;
    }
    free(dir);
    return ok;
}

/* Each line is appended as it is entered, so history survives a shell that
 * is killed or whose terminal goes away. */
static void
history_remember(const char *hist, const char *line)
{
    HIST_ENTRY *last;

    if (line[strspn(line, " \t")] == '\0')
        return;
    last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && strcmp(last->line, line) == 0)
        return;
    add_history(line);
    if (!hist || !history_dir_ready(hist))
        return;
    if (access(hist, F_OK) != 0) {
        /* append_history needs an existing file; create it private. */
        int fd = open(hist, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
            return;
        close(fd);
    }
    append_history(1, hist);
}

/* ------------------------------------------------------- completion -- */

static char *
match_generator(const char *text, int state)
{
    static size_t next;

    (void)text;
    if (state == 0)
        next = 0;
    if (next < shell_matches.n)
        return vs_xstrdup(shell_matches.cand[next++]);
    return NULL;
}

static char **
shell_complete(const char *text, int start, int end)
{
    char *line = vs_xstrndup(rl_line_buffer, (size_t)end);

    (void)start;
    /* Nothing else: no fallback to readline's own file name completion. */
    rl_attempted_completion_over = 1;
    vs_completion_clear(&shell_matches);
    vs_complete_line(shell_ctl->store, line, &shell_matches);
    free(line);
    rl_completion_append_character = shell_matches.no_space ? '\0' : ' ';
    rl_completion_suppress_quote = shell_matches.no_space;
    if (shell_matches.n == 0)
        return NULL;
    return rl_completion_matches(text, match_generator);
}

/* A word break is quoted when a backslash escapes it or a quote is open:
 * the same rule as the command grammar. */
static int
char_is_quoted(char *text, int index)
{
    bool sq = false, dq = false;
    int i;

    for (i = 0; i < index; i++) {
        if (!sq && text[i] == '\\') {
            if (++i == index)
                return 1;
            continue;
        }
        if (!dq && text[i] == '\'')
            sq = !sq;
        else if (!sq && text[i] == '"')
            dq = !dq;
    }
    return sq || dq;
}

/* ----------------------------------------------------------- Ctrl-C -- */

static void
on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Ctrl-C at the prompt drops the line being typed, as in bash, instead of
 * ending the session. readline calls this after it has handled the signal. */
static int
signal_hook(void)
{
    if (interrupted) {
        interrupted = 0;
        rl_replace_line("", 0);
        rl_crlf();
        rl_on_new_line();
        rl_redisplay();
    }
    return 0;
}

/* A Ctrl-C that readline noticed while it was not blocked in read() (busy
 * redrawing, under load) calls no hook: the keys typed after it would be
 * appended to the line it should have dropped. Each key read after the
 * signal is checked for, then, starts the new line. */
static int
getc_after_sigint(FILE *in)
{
    int c = rl_getc(in);

    signal_hook();
    return c;
}

static char *
read_tty_line(void)
{
    struct sigaction sa, old;
    char *line;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    line = readline("vsnap # ");
    /* A command in progress is interrupted the usual way. */
    sigaction(SIGINT, &old, NULL);
    return line;
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

static void
setup_readline(void)
{
    rl_readline_name = "vsnap";
    rl_attempted_completion_function = shell_complete;
    rl_completer_word_break_characters = VS_COMPLETE_WORD_BREAKS;
    rl_completer_quote_characters = VS_COMPLETE_QUOTES;
    rl_char_is_quoted_p = char_is_quoted;
    rl_signal_event_hook = signal_hook;
    rl_getc_function = getc_after_sigint;
    stifle_history(HISTORY_MAX);
}

int
vs_shell_run(vs_ctl *ctl)
{
    bool tty = isatty(STDIN_FILENO);
    char *hist = NULL;

    if (ctl->interactive)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "the shell is already running");
    ctl->interactive = true;
    shell_ctl = ctl;
    if (tty) {
        setup_readline();
        if ((hist = history_path()))
            read_history(hist);
        vs_out_extra(ctl, "Welcome to vsnap, the snapshot interactive terminal.\n\n");
        vs_out_extra(ctl, "Type:  'help' for help with commands\n"
                          "       'quit' to quit\n\n");
    }
    while (!ctl->quit) {
        char *line;

        fflush(ctl->out);
        if (!(line = tty ? read_tty_line() : read_plain_line())) {
            /* Ctrl-D: leave the prompt on a line of its own. */
            if (tty)
                vs_out(ctl, "\n");
            break;
        }
        if (tty)
            history_remember(hist, line);
        /* Errors are printed by the dispatcher; the session goes on. */
        vs_run_string(ctl, line);
        free(line);
    }
    if (hist && history_dir_ready(hist))
        history_truncate_file(hist, HISTORY_MAX);
    free(hist);
    vs_completion_clear(&shell_matches);
    fflush(ctl->out);
    shell_ctl = NULL;
    ctl->interactive = false;
    ctl->quit = false;
    return 0;
}

int
cmd_shell(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    return vs_shell_run(ctl);
}

int
cmd_quit(vs_ctl *ctl, const vs_args *a)
{
    (void)a;
    ctl->quit = true;
    return 0;
}

/* ----------------------------------------------------- cd and pwd -- */

/* virsh's default for cd: the home directory ($HOME, else the password
 * database), else "/". Caller frees. */
static char *
home_directory(void)
{
    const char *home = getenv("HOME");
    struct passwd *pw;

    if (home && *home)
        return vs_xstrdup(home);
    pw = getpwuid(geteuid());
    if (pw && pw->pw_dir && *pw->pw_dir)
        return vs_xstrdup(pw->pw_dir);
    return vs_xstrdup("/");
}

/*
 * virsh's `cd [DIR]`: relative paths of the commands after it (an xmlfile, a
 * define file, --diskspec file=) resolve there. virsh accepts it only in its
 * interactive mode; vsnap also in command strings, where libvirt's own test
 * scripts use it.
 */
int
cmd_cd(vs_ctl *ctl, const vs_args *a)
{
    const char *dir = vs_arg_str(a, "dir");
    char *home = NULL;

    /* virsh takes an empty DIR as no DIR. */
    if (!dir || !*dir)
        dir = home = home_directory();
    /* The metadata root was given relative to where vsnap started; it must
     * not move along. */
    if (ctl->store && ctl->store->root[0] != '/') {
        char *abs = vs_path_absolute(ctl->store->root);

        free(ctl->store->root);
        ctl->store->root = abs;
    }
    if (chdir(dir) < 0) {
        /* virsh's order: the reason first, then the directory. */
        vs_error_set(&ctl->err, VS_ERR_PLAIN, "cd: %s: %s", strerror(errno), dir);
        free(home);
        return -1;
    }
    free(home);
    return 0;
}

/* virsh's `pwd`: $PWD when it still names the working directory (so a path
 * through a symbolic link reads as the user wrote it), else getcwd(3). */
int
cmd_pwd(vs_ctl *ctl, const vs_args *a)
{
    const char *pwd = getenv("PWD");
    struct stat here, there;
    char *cwd;

    (void)a;
    if (pwd && pwd[0] == '/' && stat(".", &here) == 0 && stat(pwd, &there) == 0 &&
        here.st_dev == there.st_dev && here.st_ino == there.st_ino) {
        vs_out(ctl, "%s\n", pwd);
        return 0;
    }
    if (!(cwd = getcwd(NULL, 0)))
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "pwd: cannot get current directory: %s",
                            strerror(errno));
    vs_out(ctl, "%s\n", cwd);
    free(cwd);
    return 0;
}
