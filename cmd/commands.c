#include "config.h"

#include <stddef.h>
#include <string.h>

#include "cmd.h"

/*
 * Every command vsnap knows. Option order matters: it is the order help
 * prints and the order positional words fill (virsh's tables, A.0). Help
 * strings are virsh's, so `vsnap help snapshot-list` reads like virsh's.
 */

#define OPT_DOMAIN \
    { "domain", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL, \
      "domain name, id or uuid", VS_COMPLETE_DOMAIN }
#define OPT_BOOL(n, h) { n, VS_OT_BOOL, 0, h, VS_COMPLETE_NONE }
#define OPT_SNAPNAME(h) \
    { "snapshotname", VS_OT_STRING, VS_OF_POSITIONAL, h, VS_COMPLETE_SNAPSHOT }
#define OPT_END { NULL, 0, 0, NULL, VS_COMPLETE_NONE }
/* vsnap's own on virsh's listing commands; hidden so that help stays
 * virsh's (documented in vsnap.1, JSON OUTPUT) */
#define OPT_JSON_HIDDEN \
    { "json", VS_OT_BOOL, VS_OF_HIDDEN, "print the result as JSON (vsnap(1), JSON OUTPUT)", \
      VS_COMPLETE_NONE }

#define CF_RO (VS_CF_DOMAIN | VS_CF_LOCK_SH)
#define CF_RW (VS_CF_DOMAIN | VS_CF_LOCK_EX)

/* ------------------------------------------------------------ domain -- */

static const vs_opt_def opts_define[] = {
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL,
      "file containing an XML domain description", VS_COMPLETE_FILE },
    OPT_END
};

static const vs_opt_def opts_domblklist[] = {
    OPT_DOMAIN,
    OPT_BOOL("details", "additionally display the type and device value"),
    OPT_JSON_HIDDEN,
    OPT_END
};

static const vs_opt_def opts_domstate[] = {
    OPT_DOMAIN,
    OPT_BOOL("reason", "also print reason for the state"),
    OPT_END
};

static const vs_opt_def opts_dumpxml[] = {
    OPT_DOMAIN,
    OPT_BOOL("security-info", "include security sensitive information in XML dump"),
    OPT_END
};

static const vs_opt_def opts_list[] = {
    OPT_BOOL("inactive", "list inactive domains"),
    OPT_BOOL("all", "list inactive & active domains"),
    OPT_BOOL("state-running", "list domains in running state"),
    OPT_BOOL("state-paused", "list domains in paused state"),
    OPT_BOOL("state-shutoff", "list domains in shutoff state"),
    OPT_BOOL("state-other", "list domains in other states"),
    OPT_BOOL("managed-save", "mark inactive domains with managed save state"),
    OPT_BOOL("with-managed-save", "list domains with managed save state"),
    OPT_BOOL("without-managed-save", "list domains without managed save"),
    OPT_BOOL("autostart", "list domains with autostart enabled"),
    OPT_BOOL("no-autostart", "list domains with autostart disabled"),
    OPT_BOOL("name", "list domain names only"),
    OPT_JSON_HIDDEN,
    OPT_END
};

static const vs_opt_def opts_undefine[] = {
    OPT_DOMAIN,
    OPT_BOOL("snapshots-metadata", "remove all domain snapshot metadata (vm must be inactive)"),
    OPT_END
};

static const vs_opt_def opts_autostart[] = {
    OPT_DOMAIN,
    OPT_BOOL("disable", "disable autostarting"),
    OPT_END
};

/* ------------------------------------------------- running domains -- */

static const vs_opt_def opts_start[] = {
    { "domain", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL,
      "name of the inactive domain", VS_COMPLETE_DOMAIN },
    OPT_BOOL("paused", "leave the guest paused after creation"),
    OPT_BOOL("bypass-cache", "avoid file system cache when loading"),
    OPT_BOOL("force-boot", "force fresh boot by discarding any managed save"),
    OPT_END
};

static const vs_opt_def opts_shutdown[] = {
    OPT_DOMAIN,
    { "mode", VS_OT_STRING, 0, "shutdown mode: acpi|agent|initctl|signal|paravirt",
      VS_COMPLETE_NONE },
    /* vsnap's own; hidden so that help stays virsh's (documented in vsnap.1) */
    { "timeout", VS_OT_INT, VS_OF_HIDDEN,
      "seconds to wait for the guest to power off (0: do not wait)", VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_destroy[] = {
    OPT_DOMAIN,
    OPT_END
};

static const vs_opt_def opts_qemu_monitor_command[] = {
    OPT_DOMAIN,
    OPT_BOOL("hmp", "command is in human monitor protocol"),
    OPT_BOOL("pretty", "pretty-print any qemu monitor protocol output"),
    OPT_BOOL("return-value", "extract the value of the 'return' key from the returned string"),
    { "cmd", VS_OT_ARGV, VS_OF_REQUIRED | VS_OF_POSITIONAL, "command", VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_qemu_agent_command[] = {
    OPT_DOMAIN,
    { "timeout", VS_OT_INT, 0, "timeout seconds. must be positive.", VS_COMPLETE_NONE },
    OPT_BOOL("async", "execute command without waiting for timeout"),
    OPT_BOOL("block", "execute command without timeout"),
    OPT_BOOL("pretty", "pretty-print the output"),
    { "cmd", VS_OT_ARGV, VS_OF_REQUIRED | VS_OF_POSITIONAL, "command", VS_COMPLETE_NONE },
    OPT_END
};

/* ----------------------------------------------- saved domains (cmd_save.c) -- */

#define OPT_XMLFILE \
    { "xml", VS_OT_STRING, 0, "filename containing updated XML for the target", VS_COMPLETE_FILE }

static const vs_opt_def opts_save[] = {
    OPT_DOMAIN,
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL, "where to save the data",
      VS_COMPLETE_FILE },
    OPT_BOOL("bypass-cache", "avoid file system cache when saving"),
    OPT_XMLFILE,
    OPT_BOOL("running", "set domain to be running on restore"),
    OPT_BOOL("paused", "set domain to be paused on restore"),
    OPT_BOOL("verbose", "display the progress of save"),
    OPT_END
};

static const vs_opt_def opts_restore[] = {
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL, "the state to restore",
      VS_COMPLETE_FILE },
    OPT_BOOL("bypass-cache", "avoid file system cache when restoring"),
    OPT_XMLFILE,
    OPT_BOOL("running", "restore domain into running state"),
    OPT_BOOL("paused", "restore domain into paused state"),
    OPT_END
};

static const vs_opt_def opts_managedsave[] = {
    OPT_DOMAIN,
    OPT_BOOL("bypass-cache", "avoid file system cache when saving"),
    OPT_BOOL("running", "set domain to be running on next start"),
    OPT_BOOL("paused", "set domain to be paused on next start"),
    OPT_BOOL("verbose", "display the progress of save"),
    OPT_END
};

static const vs_opt_def opts_save_image_dumpxml[] = {
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL, "saved state file to read",
      VS_COMPLETE_FILE },
    OPT_BOOL("security-info", "include security sensitive information in XML dump"),
    OPT_END
};

static const vs_opt_def opts_save_image_define[] = {
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL, "saved state file to modify",
      VS_COMPLETE_FILE },
    { "xml", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL,
      "filename containing updated XML for the target", VS_COMPLETE_FILE },
    OPT_BOOL("running", "set domain to be running on restore"),
    OPT_BOOL("paused", "set domain to be paused on restore"),
    OPT_END
};

static const vs_opt_def opts_save_image_edit[] = {
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL, "saved state file to edit",
      VS_COMPLETE_FILE },
    OPT_BOOL("running", "set domain to be running on restore"),
    OPT_BOOL("paused", "set domain to be paused on restore"),
    OPT_END
};

/* ---------------------------------------------------------- snapshot -- */

static const vs_opt_def opts_snapshot_create[] = {
    OPT_DOMAIN,
    { "xmlfile", VS_OT_STRING, VS_OF_POSITIONAL, "domain snapshot XML", VS_COMPLETE_FILE },
    OPT_BOOL("redefine", "redefine metadata for existing snapshot"),
    OPT_BOOL("current", "with redefine, set current snapshot"),
    OPT_BOOL("no-metadata", "take snapshot but create no metadata"),
    OPT_BOOL("halt", "halt domain after snapshot is created"),
    OPT_BOOL("disk-only", "capture disk state but not vm state"),
    OPT_BOOL("reuse-external", "reuse any existing external files"),
    OPT_BOOL("quiesce", "quiesce guest's file systems"),
    OPT_BOOL("atomic", "require atomic operation"),
    OPT_BOOL("live", "take a live snapshot"),
    OPT_BOOL("validate", "validate the XML against the schema"),
    /* vsnap's own; hidden so that help stays virsh's (documented in vsnap.1) */
    { "dry-run", VS_OT_BOOL, VS_OF_HIDDEN,
      "print the plan (images created, merged, removed; metadata changed), change nothing",
      VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_snapshot_create_as[] = {
    OPT_DOMAIN,
    { "name", VS_OT_STRING, VS_OF_POSITIONAL, "name of snapshot", VS_COMPLETE_NONE },
    { "description", VS_OT_STRING, VS_OF_POSITIONAL, "description of snapshot", VS_COMPLETE_NONE },
    { "print-xml", VS_OT_BOOL, VS_OF_READS_ONLY, "print XML document rather than create",
      VS_COMPLETE_NONE },
    OPT_BOOL("no-metadata", "take snapshot but create no metadata"),
    OPT_BOOL("halt", "halt domain after snapshot is created"),
    OPT_BOOL("disk-only", "capture disk state but not vm state"),
    OPT_BOOL("reuse-external", "reuse any existing external files"),
    OPT_BOOL("quiesce", "quiesce guest's file systems"),
    OPT_BOOL("atomic", "require atomic operation"),
    OPT_BOOL("live", "take a live snapshot"),
    OPT_BOOL("validate", "validate the XML against the schema"),
    { "memspec", VS_OT_STRING, 0, "memory attributes: [file=]name[,snapshot=type]",
      VS_COMPLETE_MEMSPEC },
    { "diskspec", VS_OT_ARGV, VS_OF_POSITIONAL | VS_OF_EMPTY_OK,
      "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]",
      VS_COMPLETE_DISKSPEC },
    /* vsnap's own; hidden so that help stays virsh's (documented in vsnap.1) */
    { "name-prefix", VS_OT_STRING, VS_OF_HIDDEN,
      "name the snapshot PREFIX-YYYYmmdd-HHMMSS (UTC), made unique", VS_COMPLETE_NONE },
    { "dry-run", VS_OT_BOOL, VS_OF_HIDDEN,
      "print the plan (images created, merged, removed; metadata changed), change nothing",
      VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_snapshot_current[] = {
    OPT_DOMAIN,
    OPT_BOOL("name", "list the name, rather than the full xml"),
    OPT_BOOL("security-info", "include security sensitive information in XML dump"),
    { "snapshotname", VS_OT_STRING, VS_OF_POSITIONAL | VS_OF_CHANGES,
      "name of existing snapshot to make current", VS_COMPLETE_SNAPSHOT },
    OPT_JSON_HIDDEN,
    OPT_END
};

static const vs_opt_def opts_snapshot_delete[] = {
    OPT_DOMAIN,
    OPT_SNAPNAME("snapshot name"),
    OPT_BOOL("current", "delete current snapshot"),
    OPT_BOOL("children", "delete snapshot and all children"),
    OPT_BOOL("children-only", "delete children but not snapshot"),
    OPT_BOOL("metadata", "delete only libvirt metadata, leaving snapshot contents behind"),
    /* vsnap's own; hidden so that help stays virsh's (documented in vsnap.1) */
    { "dry-run", VS_OT_BOOL, VS_OF_HIDDEN,
      "print the plan (images created, merged, removed; metadata changed), change nothing",
      VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_snapshot_dumpxml[] = {
    OPT_DOMAIN,
    { "snapshotname", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL, "snapshot name",
      VS_COMPLETE_SNAPSHOT },
    OPT_BOOL("security-info", "include security sensitive information in XML dump"),
    { "xpath", VS_OT_STRING, 0, "xpath expression to filter the XML document", VS_COMPLETE_NONE },
    OPT_BOOL("wrap", "wrap xpath results in an common root element"),
    OPT_END
};

static const vs_opt_def opts_snapshot_edit[] = {
    OPT_DOMAIN,
    OPT_SNAPNAME("snapshot name"),
    OPT_BOOL("current", "also set edited snapshot as current"),
    OPT_BOOL("rename", "allow renaming an existing snapshot"),
    OPT_BOOL("clone", "allow cloning to new name"),
    OPT_END
};

static const vs_opt_def opts_snapshot_info[] = {
    OPT_DOMAIN,
    OPT_SNAPNAME("snapshot name"),
    OPT_BOOL("current", "info on current snapshot"),
    OPT_JSON_HIDDEN,
    OPT_END
};

static const vs_opt_def opts_snapshot_list[] = {
    OPT_DOMAIN,
    OPT_BOOL("parent", "add a column showing parent snapshot"),
    OPT_BOOL("roots", "list only snapshots without parents"),
    OPT_BOOL("leaves", "list only snapshots without children"),
    OPT_BOOL("no-leaves", "list only snapshots that are not leaves (with children)"),
    OPT_BOOL("metadata", "list only snapshots that have metadata that would prevent undefine"),
    OPT_BOOL("no-metadata", "list only snapshots that have no metadata managed by libvirt"),
    OPT_BOOL("inactive", "filter by snapshots taken while inactive"),
    OPT_BOOL("active", "filter by snapshots taken while active (full system snapshots)"),
    OPT_BOOL("disk-only", "filter by disk-only snapshots"),
    OPT_BOOL("internal", "filter by internal snapshots"),
    OPT_BOOL("external", "filter by external snapshots"),
    OPT_BOOL("tree", "list snapshots in a tree"),
    { "from", VS_OT_STRING, VS_OF_POSITIONAL, "limit list to children of given snapshot",
      VS_COMPLETE_SNAPSHOT },
    OPT_BOOL("current", "limit list to children of current snapshot"),
    OPT_BOOL("descendants", "with --from, list all descendants"),
    OPT_BOOL("name", "list snapshot names only"),
    OPT_BOOL("topological", "sort list topologically rather than by name"),
    OPT_JSON_HIDDEN,
    OPT_END
};

static const vs_opt_def opts_snapshot_parent[] = {
    OPT_DOMAIN,
    OPT_SNAPNAME("find parent of snapshot name"),
    OPT_BOOL("current", "find parent of current snapshot"),
    OPT_END
};

static const vs_opt_def opts_snapshot_revert[] = {
    OPT_DOMAIN,
    OPT_SNAPNAME("snapshot name"),
    OPT_BOOL("current", "revert to current snapshot"),
    OPT_BOOL("running", "after reverting, change state to running"),
    OPT_BOOL("paused", "after reverting, change state to paused"),
    OPT_BOOL("force", "try harder on risky reverts"),
    OPT_BOOL("reset-nvram", "re-initialize NVRAM from its pristine template"),
    /* vsnap's own; hidden so that help stays virsh's (documented in vsnap.1) */
    { "dry-run", VS_OT_BOOL, VS_OF_HIDDEN,
      "print the plan (images created, merged, removed; metadata changed), change nothing",
      VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_snapshot_check[] = {
    OPT_DOMAIN,
    OPT_BOOL("repair", "finish or roll back an interrupted operation and remove the files it left"),
    OPT_BOOL("json", "print the problems as JSON"),
    OPT_END
};

static const vs_opt_def opts_snapshot_prune[] = {
    OPT_DOMAIN,
    { "keep-last", VS_OT_INT, 0, "keep the N newest snapshots", VS_COMPLETE_NONE },
    { "keep-hourly", VS_OT_INT, 0, "keep the newest snapshot of each of the last N hours",
      VS_COMPLETE_NONE },
    { "keep-daily", VS_OT_INT, 0, "keep the newest snapshot of each of the last N days",
      VS_COMPLETE_NONE },
    { "keep-weekly", VS_OT_INT, 0, "keep the newest snapshot of each of the last N weeks",
      VS_COMPLETE_NONE },
    { "keep-monthly", VS_OT_INT, 0, "keep the newest snapshot of each of the last N months",
      VS_COMPLETE_NONE },
    { "keep-yearly", VS_OT_INT, 0, "keep the newest snapshot of each of the last N years",
      VS_COMPLETE_NONE },
    { "keep-within", VS_OT_STRING, 0,
      "keep every snapshot newer than DURATION (90m, 36h, 7d, 2w, 1y, 1d12h)", VS_COMPLETE_NONE },
    { "match", VS_OT_STRING, 0, "prune only snapshots whose names match this glob",
      VS_COMPLETE_NONE },
    { "dry-run", VS_OT_BOOL, VS_OF_READS_ONLY,
      "print each snapshot, keep or delete, and the rules that decided it; change nothing",
      VS_COMPLETE_NONE },
    OPT_BOOL("plan", "with --dry-run, also print the plan of the deletions"),
    OPT_BOOL("json", "print the decisions as JSON"),
    OPT_END
};

static const vs_opt_def opts_snapshot_export[] = {
    OPT_DOMAIN,
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL,
      "file to write the export document to ('-': standard output)", VS_COMPLETE_FILE },
    OPT_END
};

static const vs_opt_def opts_snapshot_import[] = {
    { "file", VS_OT_STRING, VS_OF_REQUIRED | VS_OF_POSITIONAL,
      "export document to read ('-': standard input)", VS_COMPLETE_FILE },
    OPT_BOOL("replace", "replace a different definition and snapshots of the same names"),
    OPT_END
};

/* ------------------------------------------------------------- vsnap -- */

static const vs_opt_def opts_cd[] = {
    /* virsh reads an empty DIR as none: the home directory */
    { "dir", VS_OT_STRING, VS_OF_POSITIONAL | VS_OF_EMPTY_OK,
      "directory to switch to (default: home or else root)", VS_COMPLETE_DIR },
    OPT_END
};

static const vs_opt_def opts_echo[] = {
    OPT_BOOL("shell", "escape for shell use"),
    OPT_BOOL("xml", "escape for XML use"),
    OPT_BOOL("err", "output to stderr"),
    { "string", VS_OT_ARGV, VS_OF_POSITIONAL | VS_OF_EMPTY_OK, "arguments to echo",
      VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_help[] = {
    { "command", VS_OT_STRING, VS_OF_POSITIONAL,
      "Prints global help, command specific help, or help for a group of related commands",
      VS_COMPLETE_COMMAND },
    OPT_END
};

static const vs_opt_def opts_complete[] = {
    { "string", VS_OT_ARGV, VS_OF_POSITIONAL | VS_OF_EMPTY_OK,
      "the words before the cursor, the one being completed last", VS_COMPLETE_NONE },
    OPT_END
};

static const vs_opt_def opts_self_test[] = {
    { "manpage", VS_OT_STRING, 0, "manual page to check against the command table",
      VS_COMPLETE_FILE },
    OPT_END
};

static const vs_opt_def opts_none[] = {
    OPT_END
};

const vs_cmd_group vs_cmd_groups[] = {
    { "domain", "Domain Management" },
    { "snapshot", "Snapshot" },
    { "beyond", "Beyond virsh" },
    { "vsnap", "vsnap itself" },
    { NULL, NULL },
};

const vs_cmd_def vs_commands[] = {
    { "autostart", "domain", "autostart a domain",
      "Configure a domain to be automatically started at boot.", opts_autostart, CF_RW,
      cmd_autostart, NULL },
    { "define", "domain", "define (but don't start) a domain from an XML file",
      "Define a domain.", opts_define, 0, cmd_define, NULL },
    /* Running domains (cmd_run.c: destroy, qemu-*, resume, shutdown, start,
     * suspend). State changes and the monitor and agent commands (which can
     * change anything) hold the exclusive lock; domstate a shared one; list
     * none (see cmd_list). */
    { "destroy", "domain", "destroy (stop) a domain",
      "Forcefully stop a given domain, but leave its resources intact.", opts_destroy, CF_RW,
      cmd_destroy, NULL },
    { "domblklist", "domain", "list all domain blocks",
      "Get the summary of block devices for a domain.", opts_domblklist, CF_RO,
      cmd_domblklist, NULL },
    { "dominfo", "domain", "domain information", "Returns basic information about the domain.",
      opts_destroy, CF_RO, cmd_dominfo, NULL },
    { "domstate", "domain", "domain state", "Returns state about a domain.",
      opts_domstate, CF_RO, cmd_domstate, NULL },
    { "dumpxml", "domain", "domain information in XML",
      "Output the domain information as an XML dump to stdout.", opts_dumpxml, CF_RO,
      cmd_dumpxml, NULL },
    { "list", "domain", "list domains", "Returns list of domains.", opts_list, 0,
      cmd_list, NULL },
    /* Saved domains (cmd_save.c). restore and the save-image commands name a
     * file, not a domain: restore locks the domain the image names itself. */
    { "managedsave", "domain", "managed save of a domain state",
      "Save and destroy a running domain, so it can be restarted from\n"
      "    the same state at a later time.  When the virsh 'start'\n"
      "    command is next run for the domain, it will automatically\n"
      "    be started from this saved state.", opts_managedsave, CF_RW, cmd_managedsave, NULL },
    { "managedsave-remove", "domain", "Remove managed save of a domain",
      "Remove an existing managed save state file from a domain", opts_destroy,
      CF_RW | VS_CF_NO_NEWLINE, cmd_managedsave_remove, NULL },
    { "qemu-agent-command", "domain", "QEMU Guest Agent Command",
      "Run an arbitrary qemu guest agent command; use at your own risk",
      opts_qemu_agent_command, CF_RW, cmd_qemu_agent_command, NULL },
    { "qemu-monitor-command", "domain", "QEMU Monitor Command", "QEMU Monitor Command",
      opts_qemu_monitor_command, CF_RW, cmd_qemu_monitor_command, NULL },
    { "restore", "domain", "restore a domain from a saved state in a file",
      "Restore a domain.", opts_restore, 0, cmd_restore, NULL },
    { "resume", "domain", "resume a domain", "Resume a previously suspended domain.",
      opts_destroy, CF_RW, cmd_resume, NULL },
    { "save", "domain", "save a domain state to a file", "Save the RAM state of a running domain.",
      opts_save, CF_RW, cmd_save, NULL },
    { "save-image-define", "domain", "redefine the XML for a domain's saved state file",
      "Replace the domain XML associated with a saved state file", opts_save_image_define, 0,
      cmd_save_image_define, NULL },
    { "save-image-dumpxml", "domain", "saved state domain information in XML",
      "Dump XML of domain information for a saved state file to stdout.",
      opts_save_image_dumpxml, 0, cmd_save_image_dumpxml, NULL },
    { "save-image-edit", "domain", "edit XML for a domain's saved state file",
      "Edit the domain XML associated with a saved state file", opts_save_image_edit, 0,
      cmd_save_image_edit, NULL },
    { "shutdown", "domain", "gracefully shutdown a domain", "Run shutdown in the target domain.",
      opts_shutdown, CF_RW, cmd_shutdown, NULL },
    { "start", "domain", "start a (previously defined) inactive domain",
      "Start a domain, either from the last managedsave\n"
      "    state, or via a fresh boot if no managedsave state\n"
      "    is present.", opts_start, CF_RW, cmd_start, NULL },
    { "suspend", "domain", "suspend a domain", "Suspend a running domain.", opts_destroy, CF_RW,
      cmd_suspend, NULL },
    { "undefine", "domain", "undefine a domain",
      "Undefine an inactive domain, or convert persistent to transient.", opts_undefine,
      0 /* locks through vs_store_undefine */, cmd_undefine, NULL },

    { "start-autostarted", "beyond", "Start every domain marked autostart",
      "Start, as 'start DOMAIN' does, every domain marked with 'autostart' that is\n"
      "    shut off (the shipped vsnap-autostart.service runs it at boot).",
      opts_none, 0 /* each start locks its domain */, cmd_start_autostarted, NULL },
    { "snapshot-check", "beyond", "Check snapshot metadata against the disk images",
      "Compare the domain's snapshot metadata with its disk images: images that\n"
      "    are missing, backing chains and internal snapshot tables that disagree\n"
      "    with the metadata, image files nothing refers to, and an operation that\n"
      "    was interrupted. --repair finishes or rolls back that operation.",
      opts_snapshot_check, CF_RW | VS_CF_REPAIRS, cmd_snapshot_check, NULL },
    { "snapshot-prune", "beyond", "Delete the snapshots a retention policy does not keep",
      "Keep, per period of local time, the newest snapshot of each of the last N\n"
      "    hours, days, weeks, months or years, the N newest, and every snapshot\n"
      "    newer than a duration; delete the other snapshots whose names match\n"
      "    --match (default: all), never the current one, in one plan.",
      opts_snapshot_prune, CF_RW, cmd_snapshot_prune, NULL },
    { "snapshot-export", "beyond", "Write a domain and all its snapshots as one document",
      "Write the domain's definition and every snapshot's XML, parents first, as\n"
      "    one document that snapshot-import reads on another host (each snapshot\n"
      "    as snapshot-dumpxml --security-info prints it).",
      opts_snapshot_export, CF_RO, cmd_snapshot_export, NULL },
    { "snapshot-import", "beyond", "Define a domain and its snapshots from an export",
      "Define the domain of a snapshot-export document if it is not defined, and\n"
      "    redefine its whole snapshot tree and current snapshot, all or nothing.\n"
      "    Snapshots already there with other XML are refused unless --replace.",
      opts_snapshot_import, 0 /* locks through vs_snapshot_import */, cmd_snapshot_import,
      NULL },
    { "snapshot-create", "snapshot", "Create a snapshot from XML",
      "Create a snapshot (disk and RAM) from XML", opts_snapshot_create, CF_RW,
      cmd_snapshot_create, NULL },
    { "snapshot-create-as", "snapshot", "Create a snapshot from a set of args",
      "Create a snapshot (disk and RAM) from arguments", opts_snapshot_create_as, CF_RW,
      cmd_snapshot_create_as, NULL },
    { "snapshot-current", "snapshot", "Get or set the current snapshot",
      "Get or set the current snapshot", opts_snapshot_current, CF_RO,
      cmd_snapshot_current, NULL },
    { "snapshot-delete", "snapshot", "Delete a domain snapshot", "Snapshot Delete",
      opts_snapshot_delete, CF_RW, cmd_snapshot_delete, NULL },
    { "snapshot-dumpxml", "snapshot", "Dump XML for a domain snapshot", "Snapshot Dump XML",
      opts_snapshot_dumpxml, CF_RO, cmd_snapshot_dumpxml, NULL },
    { "snapshot-edit", "snapshot", "edit XML for a snapshot",
      "Edit the domain snapshot XML for a named snapshot", opts_snapshot_edit, CF_RW,
      cmd_snapshot_edit, NULL },
    { "snapshot-info", "snapshot", "snapshot information",
      "Returns basic information about a snapshot.", opts_snapshot_info, CF_RO,
      cmd_snapshot_info, NULL },
    { "snapshot-list", "snapshot", "List snapshots for a domain", "Snapshot List",
      opts_snapshot_list, CF_RO, cmd_snapshot_list, NULL },
    { "snapshot-parent", "snapshot", "Get the name of the parent of a snapshot",
      "Extract the snapshot's parent, if any", opts_snapshot_parent, CF_RO,
      cmd_snapshot_parent, NULL },
    { "snapshot-revert", "snapshot", "Revert a domain to a snapshot", "Revert domain to snapshot",
      opts_snapshot_revert, CF_RW, cmd_snapshot_revert, NULL },

    { "cd", "vsnap", "change the current directory", "Change the current directory.", opts_cd,
      0, cmd_cd, NULL },
    /* Hidden: bash's completion script calls it (completions/vsnap.bash). */
    { "complete", "vsnap", "internal command for autocompletion",
      "Print the completions of the last word, one per line. The words are the\n"
      "    command line from the command name to the cursor, as typed.",
      opts_complete, VS_CF_HIDDEN | VS_CF_NO_NEWLINE, cmd_complete, NULL },
    { "echo", "vsnap", "echo arguments. Used for internal testing.",
      "Echo back arguments, possibly with quoting. Used for internal testing.", opts_echo,
      VS_CF_HIDDEN, cmd_echo, NULL },
    { "exit", "vsnap", "quit this interactive terminal", "", opts_none, VS_CF_NO_NEWLINE,
      cmd_quit, NULL },
    { "help", "vsnap", "print help",
      "Prints global help, command specific help, or help for a\n"
      "    group of related commands", opts_help, 0, cmd_help, NULL },
    { "pwd", "vsnap", "print the current directory", "Print the current directory.", opts_none,
      0, cmd_pwd, NULL },
    { "quit", "vsnap", "quit this interactive terminal", "", opts_none, VS_CF_NO_NEWLINE,
      cmd_quit, NULL },
    /* Hidden: `make check` runs it. */
    { "self-test", "vsnap", "check the command table and the manual",
      "Check the command table for missing help text, aliases that point\n"
      "    nowhere and similar mistakes and, with --manpage, that the manual\n"
      "    documents exactly the commands and options of the table. Prints TAP.",
      opts_self_test, VS_CF_HIDDEN | VS_CF_NO_NEWLINE, cmd_self_test, NULL },
    { "shell", "vsnap", "run an interactive shell",
      "Read commands from the terminal (or standard input) with line editing and history.",
      opts_none, 0, cmd_shell, NULL },

    { NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL },
};

const vs_cmd_def *
vs_cmd_find(const char *name)
{
    const vs_cmd_def *c;

    for (c = vs_commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            if (c->alias_of)
                return vs_cmd_find(c->alias_of);
            return c;
        }
    }
    return NULL;
}
