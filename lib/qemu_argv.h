/* Domain XML -> a qemu-system-* command line. No policy and no I/O beyond
 * reading libvirt network definitions: the caller supplies the host facts
 * (KVM usable, descriptor numbers, the run directory), so the mapping is a
 * pure function that tests check table by table. */
#ifndef VSNAP_QEMU_ARGV_H
#define VSNAP_QEMU_ARGV_H

#include <stdbool.h>
#include "domain_def.h"
#include "error.h"

/* What the caller knows about the host and the launch. */
typedef struct vs_qemu_host {
    const char *run_dir;        /* <domain>/run: pid file, serial logs */
    int monitor_fd;             /* QEMU's descriptor of the listening QMP socket */
    int agent_fd;               /* ... of the guest agent's socket (used when ->agent) */
    bool kvm_ok;                /* /dev/kvm can be opened read-write */
    const char *network_dir;    /* libvirt's network definitions; NULL: /etc/libvirt/qemu/networks */
    bool incoming_defer;        /* -incoming defer: the state comes by migrate-incoming */
} vs_qemu_host;

/* The command line and what must happen around it. All owned; release
 * with vs_qemu_launch_clear. */
typedef struct vs_qemu_launch {
    char **argv;                /* NULL-terminated; argv[0] the emulator */
    char **env;                 /* NAME=VALUE from <qemu:env>, NULL-terminated (maybe empty) */
    bool kvm;                   /* accel=kvm */
    bool agent;                 /* a guest agent channel: pass the agent socket as agent_fd */
    char *nvram;                /* UEFI variables file, NULL without <nvram> */
    char *nvram_template;       /* copied to nvram when that is missing, NULL: none given */
    char *vnc_password;         /* <graphics passwd=>: set over QMP before the guest runs */
    char *pidfile;              /* <run_dir>/pid, written (and removed at exit) by QEMU */
} vs_qemu_launch;

/*
 * Translate `def` (the persistent definition) into a QEMU command line with
 * -S (the caller sends `cont`), -no-user-config -nodefaults, the QMP socket
 * at host->monitor_fd, a pid file in the run directory and one -blockdev
 * pair per disk. Every element and attribute of the definition is either
 * translated, known to need nothing (names, metadata, the implicit PS/2
 * input of a PC), or refused: "unsupported configuration: vsnap cannot
 * start domain 'D': <ELEMENT ...> is not supported", naming the element with
 * its attributes and where it is. Never silently dropped.
 */
int vs_qemu_launch_build(const vs_domain_def *def, const vs_qemu_host *host,
                         vs_qemu_launch *out, vs_error *err);
void vs_qemu_launch_clear(vs_qemu_launch *l);
/* The <os><nvram> of def: its variables file and template, each NULL when
 * absent (caller frees both). */
void vs_qemu_nvram(const vs_domain_def *def, char **vars, char **tmpl);

/*
 * Block node names (documented in the manual): disk TARGET's layer number
 * GEN has the protocol node "vsnap-TARGET-GEN-storage" and the format node
 * "vsnap-TARGET-GEN-format"; `start` opens layer 0 of every disk and names
 * its guest device TARGET (qdev id), so `qemu-io -d vda` and query-block's
 * "qdev": "vda" find it. Backing files below layer 0 are opened by QEMU from
 * the image headers under automatic names. Targets are 1-8 characters of
 * [a-z0-9], starting with a letter, so every name fits QEMU's 31. Caller frees.
 */
char *vs_qemu_node_name(const char *target, unsigned gen, bool format);

#endif
