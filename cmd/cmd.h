/* The vsnap executable: the command table, parsed arguments and output helpers.
 * Everything the command, help, shell and completion code share. */
#ifndef VSNAP_CMD_H
#define VSNAP_CMD_H

#include <stdbool.h>
#include <stdio.h>
#include "../lib/error.h"
#include "../lib/store.h"

typedef enum vs_opt_type {
    VS_OT_BOOL,     /* --flag */
    VS_OT_STRING,   /* --opt VALUE / --opt=VALUE */
    VS_OT_INT,      /* --opt N */
    VS_OT_ARGV,     /* repeatable; swallows remaining positional words (--diskspec) */
} vs_opt_type;

/* Option flags. */
enum {
    VS_OF_REQUIRED   = 1 << 0,  /* must be given */
    VS_OF_POSITIONAL = 1 << 1,  /* may be given without its name, in table order */
    VS_OF_EMPTY_OK   = 1 << 2,  /* an empty string is accepted */
    VS_OF_HIDDEN     = 1 << 3,  /* parsed, not shown in help */
    /* The lock a VS_CF_DOMAIN command takes can depend on its options: */
    VS_OF_CHANGES    = 1 << 4,  /* given, the command changes the domain (exclusive lock) */
    VS_OF_READS_ONLY = 1 << 5,  /* given, the command only reads the domain (shared lock) */
};

typedef enum vs_completer {
    VS_COMPLETE_NONE = 0,
    VS_COMPLETE_DOMAIN,
    VS_COMPLETE_SNAPSHOT,   /* names of the domain given earlier on the line */
    VS_COMPLETE_FILE,
    VS_COMPLETE_DIR,        /* directories only (cd) */
    VS_COMPLETE_DISKSPEC,
    VS_COMPLETE_MEMSPEC,
    VS_COMPLETE_COMMAND,    /* help topics: command names and group keywords */
} vs_completer;

typedef struct vs_opt_def {
    const char *name;       /* without "--" */
    vs_opt_type type;
    unsigned flags;
    const char *help;       /* one line, as virsh's */
    vs_completer completer;
} vs_opt_def;

/*
 * Command flags. The lock a domain command takes says whether it changes the
 * domain: exclusive = it changes it, shared = it only reads it (options can
 * switch it, VS_OF_CHANGES / VS_OF_READS_ONLY). After an interrupted
 * operation (a journal in the domain) the dispatcher refuses the first kind
 * and lets the second run with a warning.
 */
enum {
    VS_CF_DOMAIN     = 1 << 0,  /* opens the domain named by --domain */
    VS_CF_LOCK_SH    = 1 << 1,  /* ... with a shared lock */
    VS_CF_LOCK_EX    = 1 << 2,  /* ... with an exclusive lock */
    VS_CF_HIDDEN     = 1 << 3,  /* not listed in help (complete, self-test) */
    VS_CF_NO_NEWLINE = 1 << 4,  /* no virsh trailing empty line (help, quit) */
    VS_CF_REPAIRS    = 1 << 5,  /* deals with an interrupted operation itself (snapshot-check) */
};

typedef struct vs_ctl vs_ctl;
typedef struct vs_args vs_args;

typedef struct vs_cmd_def {
    const char *name;
    const char *group;          /* help keyword, e.g. "snapshot", "domain" */
    const char *summary;        /* help's NAME line */
    const char *description;    /* help's DESCRIPTION */
    const vs_opt_def *opts;     /* terminated by { NULL } */
    unsigned flags;
    int (*run)(vs_ctl *ctl, const vs_args *args);
    const char *alias_of;       /* an alias: name of the real command, NULL otherwise */
} vs_cmd_def;

/* The one table: every command, terminated by { NULL }. (commands.c) */
extern const vs_cmd_def vs_commands[];
/* Look a command up by name; an alias yields the command it stands for. */
const vs_cmd_def *vs_cmd_find(const char *name);

/* Help groups in the order `help` lists them, terminated by { NULL }.
 * vs_cmd_def.group holds a keyword from this table. (commands.c) */
typedef struct vs_cmd_group {
    const char *keyword;        /* "snapshot" */
    const char *name;           /* "Snapshot", printed as " Snapshot (help keyword 'snapshot'):" */
} vs_cmd_group;
extern const vs_cmd_group vs_cmd_groups[];

/* Run-time state shared by the commands of one invocation or shell session. */
struct vs_ctl {
    bool quiet;                 /* -q */
    bool interactive;           /* the shell */
    vs_store *store;
    vs_dom *dom;                /* opened by the dispatcher for VS_CF_DOMAIN commands */
    vs_error err;               /* filled by a failing command; printed by the dispatcher */
    FILE *out;                  /* stdout */
    bool quit;                  /* set by quit/exit: stop the current sequence or shell */
    bool skip_busy;             /* --if-busy=skip: a busy domain skips the command */
};

/* Parsed options of one command. Values are owned by the args. */
bool vs_arg_bool(const vs_args *a, const char *name);
const char *vs_arg_str(const vs_args *a, const char *name);          /* NULL if absent */
int vs_arg_int(const vs_args *a, const char *name, int *value, vs_error *err); /* 0 absent, 1 set, -1 bad */
char *const *vs_arg_argv(const vs_args *a, const char *name);        /* NULL-terminated or NULL */

/* Output: data to stdout; "extra" text (success messages, headers) only when not -q. */
void vs_out(vs_ctl *ctl, const char *fmt, ...) VS_PRINTF(2, 3);
void vs_out_extra(vs_ctl *ctl, const char *fmt, ...) VS_PRINTF(2, 3);
/* "error: MESSAGE\n" to stderr, stdout flushed first. */
void vs_print_error(vs_ctl *ctl, const char *fmt, ...) VS_PRINTF(2, 3);
/* "warning: MESSAGE\n" to stderr (also under -q), stdout flushed first;
 * control bytes in the message are shown as \xNN. */
void vs_print_warning(vs_ctl *ctl, const char *fmt, ...) VS_PRINTF(2, 3);

/*
 * The one place cmd/ asks whether an operation on domain d was interrupted
 * (its journal is there). If so, a command that `changes` the domain gets -1
 * and the refusal in err ("operation failed: domain 'D' has an interrupted
 * ...; run 'vsnap snapshot-check D --repair' to finish or roll it back"); one
 * that only reads gets 0 after one warning line on stderr naming the same
 * repair. A domain opened without a lock is only taken as interrupted when no
 * running command holds it (a running plan has a journal too); it is then
 * left holding a shared lock. (main.c)
 */
int vs_cmd_interrupted(vs_ctl *ctl, vs_dom *d, bool changes, vs_error *err);

/*
 * --if-busy=skip: when err says a domain stayed busy (VS_ERR_BUSY) and the
 * user asked to skip, print one note on stderr (not under -q), "note:
 * CMD skipped: domain 'D' is busy: ...", clear err and return true; the
 * command then counts as done (status 0). Otherwise false. (main.c)
 */
bool vs_cmd_skip_busy(vs_ctl *ctl, const char *cmd, vs_error *err);

/* A command has read everything it prints: let go of the domain's lock, so
 * that a slow reader of the output (a pager) holds no writer up. (main.c) */
void vs_cmd_done_reading(vs_ctl *ctl);

/* Command runners, one file per family (cmd_domain.c, cmd_snapshot.c). */
int cmd_define(vs_ctl *ctl, const vs_args *a);
int cmd_undefine(vs_ctl *ctl, const vs_args *a);
int cmd_list(vs_ctl *ctl, const vs_args *a);
int cmd_dumpxml(vs_ctl *ctl, const vs_args *a);
int cmd_domstate(vs_ctl *ctl, const vs_args *a);
int cmd_domblklist(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_create(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_create_as(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_current(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_delete(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_dumpxml(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_edit(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_info(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_list(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_parent(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_revert(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_check(vs_ctl *ctl, const vs_args *a);   /* cmd_check.c */
/* cmd_run.c: running domains */
int cmd_start(vs_ctl *ctl, const vs_args *a);
int cmd_shutdown(vs_ctl *ctl, const vs_args *a);
int cmd_destroy(vs_ctl *ctl, const vs_args *a);
int cmd_suspend(vs_ctl *ctl, const vs_args *a);
int cmd_resume(vs_ctl *ctl, const vs_args *a);
int cmd_qemu_monitor_command(vs_ctl *ctl, const vs_args *a);
int cmd_qemu_agent_command(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_prune(vs_ctl *ctl, const vs_args *a);   /* cmd_prune.c */
/* cmd_save.c: save, restore, managed save, save images */
int cmd_save(vs_ctl *ctl, const vs_args *a);
int cmd_restore(vs_ctl *ctl, const vs_args *a);
int cmd_managedsave(vs_ctl *ctl, const vs_args *a);
int cmd_managedsave_remove(vs_ctl *ctl, const vs_args *a);
int cmd_save_image_dumpxml(vs_ctl *ctl, const vs_args *a);
int cmd_save_image_define(vs_ctl *ctl, const vs_args *a);
int cmd_save_image_edit(vs_ctl *ctl, const vs_args *a);
/* snapshot-edit's helpers (cmd_snapshot.c), for save-image-edit: text into
 * a temporary file (caller frees the path and removes the file), and
 * $VISUAL / $EDITOR / vi on it. */
char *edit_write_tmp(const char *text, vs_error *err);
int edit_run_editor(vs_ctl *ctl, const char *path, vs_error *err);
int cmd_snapshot_export(vs_ctl *ctl, const vs_args *a);  /* cmd_move.c */
int cmd_autostart(vs_ctl *ctl, const vs_args *a);        /* cmd_boot.c */
int cmd_dominfo(vs_ctl *ctl, const vs_args *a);
int cmd_start_autostarted(vs_ctl *ctl, const vs_args *a);
int cmd_snapshot_import(vs_ctl *ctl, const vs_args *a);
int cmd_help(vs_ctl *ctl, const vs_args *a);
int cmd_echo(vs_ctl *ctl, const vs_args *a);
int cmd_quit(vs_ctl *ctl, const vs_args *a);
int cmd_shell(vs_ctl *ctl, const vs_args *a);
int cmd_cd(vs_ctl *ctl, const vs_args *a);      /* shell.c, with pwd */
int cmd_pwd(vs_ctl *ctl, const vs_args *a);
int cmd_self_test(vs_ctl *ctl, const vs_args *a);
int cmd_complete(vs_ctl *ctl, const vs_args *a);

/* Parse a command string and run it as a one-shot invocation does: a parse
 * error is printed and nothing runs; otherwise every command runs and errors
 * are printed. Returns the last command's status (0 / -1). (main.c) */
int vs_run_string(vs_ctl *ctl, const char *line);
/* Parse one command from words (words[0] its name) and run it as the
 * dispatcher runs any (its domain opened and locked, its error printed),
 * without virsh's empty line after it: how one command runs another
 * (start-autostarted runs `start DOMAIN`). Returns 0 / -1. (main.c) */
int vs_run_words(vs_ctl *ctl, char *const words[], size_t nwords);
/* The interactive session (shell.c): readline on a terminal, plain lines
 * otherwise, until quit/exit or end of input. */
int vs_shell_run(vs_ctl *ctl);

#endif
