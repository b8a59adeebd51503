/* autostart, dominfo, and start-autostarted: what the boot unit runs
 * (schedule/vsnap-autostart.service) to start every domain marked
 * autostart, through the start command itself. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "domain_def.h"
#include "domain_run.h"
#include "mem.h"
#include "xml.h"

int
cmd_autostart(vs_ctl *ctl, const vs_args *a)
{
    bool off = vs_arg_bool(a, "disable");

    if (vs_dom_set_autostart(ctl->dom, !off, &ctl->err) < 0) {
        vs_print_error(ctl, off ? "Failed to unmark domain '%s' as autostarted"
                                : "Failed to mark domain '%s' as autostarted", ctl->dom->name);
        return -1;
    }
    vs_out_extra(ctl, off ? "Domain '%s' unmarked as autostarted\n"
                          : "Domain '%s' marked as autostarted\n", ctl->dom->name);
    return 0;
}

/* ---- dominfo ---------------------------------------------------------------- */

/* The text of root/<a>/<b> (b NULL: root/<a>), caller frees; NULL if absent. */
static char *
text_at(xmlNodePtr root, const char *a, const char *b)
{
    xmlNodePtr n = vs_xml_child(root, a);

    if (n && b)
        n = vs_xml_child(n, b);
    return n ? vs_xml_text(n) : NULL;
}

/* A <memory>-like element in KiB, as libvirt stores it (0: absent). */
static unsigned long long
memory_kib(xmlNodePtr root, const char *name)
{
    static const struct { const char *unit; unsigned long long num, den; } units[] = {
        { "b", 1, 1024 }, { "bytes", 1, 1024 }, { "KB", 1000, 1024 }, { "k", 1, 1 },
        { "KiB", 1, 1 }, { "MB", 1000000, 1024 }, { "M", 1024, 1 }, { "MiB", 1024, 1 },
        { "GB", 1000000000, 1024 }, { "G", 1048576, 1 }, { "GiB", 1048576, 1 },
        { "TB", 1000000000000ULL, 1024 }, { "T", 1073741824ULL, 1 }, { "TiB", 1073741824ULL, 1 },
    };
    xmlNodePtr n = vs_xml_child(root, name);
    char *text, *unit, *end;
    unsigned long long v, kib = 0;
    size_t i;

    if (!n || !(text = vs_xml_text(n)))
        return 0;
    unit = vs_xml_prop(n, "unit");
    v = strtoull(text, &end, 10);
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(unit ? unit : "KiB", units[i].unit) == 0)
            kib = v * units[i].num / units[i].den;
    free(unit);
    free(text);
    return kib;
}

/* QEMU's processor time in seconds, from /proc (-1 when it cannot be read). */
static double
cpu_seconds(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* after "(comm)": state is field 3, utime and stime fields 14 and 15 */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int
cmd_dominfo(vs_ctl *ctl, const vs_args *a)
{
    vs_domain_def *def;
    vs_run_info info;
    xmlNodePtr root;
    char *os, *vcpu;
    unsigned long long max, cur;
    bool active;

    (void)a;
    if (!(def = vs_dom_def(ctl->dom, &ctl->err)) ||
        vs_domain_run_info(ctl->dom, &info, &ctl->err) < 0)
        return -1;
    root = xmlDocGetRootElement(def->doc);
    active = info.state != VS_RUN_SHUTOFF;
    os = text_at(root, "os", "type");
    vcpu = text_at(root, "vcpu", NULL);
    max = memory_kib(root, "memory");
    cur = memory_kib(root, "currentMemory");
    if (active && info.pid > 0)
        vs_out(ctl, "%-15s %ld\n", "Id:", (long)info.pid);
    else
        vs_out(ctl, "%-15s %s\n", "Id:", "-");
    vs_out(ctl, "%-15s %s\n", "Name:", def->name);
    vs_out(ctl, "%-15s %s\n", "UUID:", def->uuid ? def->uuid : "");
    vs_out(ctl, "%-15s %s\n", "OS Type:", os ? os : "hvm");
    vs_out(ctl, "%-15s %s\n", "State:", vs_run_state_name(info.state));
    vs_out(ctl, "%-15s %s\n", "CPU(s):", vcpu ? vcpu : "1");
    if (active && info.pid > 0) {
        double s = cpu_seconds(info.pid);

        /* virsh leaves the line out when the time is 0 */
        if (s > 0)
            vs_out(ctl, "%-15s %.1lfs\n", "CPU time:", s);
    }
    vs_out(ctl, "%-15s %llu KiB\n", "Max memory:", max);
    vs_out(ctl, "%-15s %llu KiB\n", "Used memory:", cur ? cur : max);
    vs_out(ctl, "%-15s %s\n", "Persistent:", "yes");
    vs_out(ctl, "%-15s %s\n", "Autostart:", vs_dom_autostart(ctl->dom) ? "enable" : "disable");
    vs_out(ctl, "%-15s %s\n", "Managed save:",
           vs_dom_entry_exists(ctl->dom, VS_DOM_MANAGED_SAVE) ? "yes" : "no");
    vs_out(ctl, "%-15s %s\n", "Security model:", "none");
    vs_out(ctl, "%-15s %s\n", "Security DOI:", "0");
    free(os);
    free(vcpu);
    return 0;
}

/* ---- the boot path ------------------------------------------------------------- */

/* Whether domain `name` is marked autostart and shut off (a domain that
 * cannot be looked at is said and counts as a failure). */
static int
wants_start(vs_ctl *ctl, const char *name)
{
    vs_run_info info;
    vs_error e;
    vs_dom *d;
    int ret = 0;

    vs_error_clear(&e);
    if (!(d = vs_dom_open(ctl->store, name, VS_LOCK_SHARED, &e))) {
        if (e.code == VS_ERR_NO_DOMAIN)
            return 0;       /* undefined meanwhile */
        vs_print_error(ctl, "%s", e.msg);
        return -1;
    }
    if (vs_dom_autostart(d)) {
        if (vs_domain_run_info(d, &info, &e) < 0) {
            vs_print_error(ctl, "%s", e.msg);
            ret = -1;
        } else {
            ret = info.state == VS_RUN_SHUTOFF;
        }
    }
    vs_dom_close(d);
    return ret;
}

int
cmd_start_autostarted(vs_ctl *ctl, const vs_args *a)
{
    char **names;
    size_t i;
    int failed = 0;

    (void)a;
    if (vs_store_list_domains(ctl->store, &names, &ctl->err) < 0)
        return -1;
    for (i = 0; names[i]; i++) {
        /* exactly `vsnap start NAME`: its lock, its checks, its messages,
         * whatever start does (a managed save resumed) */
        char *words[] = { "start", names[i] };
        int w = wants_start(ctl, names[i]);

        /* what was printed must not be in a buffer a child of start copies */
        fflush(ctl->out ? ctl->out : stdout);

        if (w < 0 || (w > 0 && vs_run_words(ctl, words, 2) < 0))
            failed++;
    }
    vs_strv_free(names);
    if (failed)
        return vs_error_set(&ctl->err, VS_ERR_PLAIN, "%d autostart domain%s could not be started",
                            failed, failed == 1 ? "" : "s");
    return 0;
}
