/* Domain XML -> QEMU command line (see qemu_argv.h).
 *
 * Two passes over the definition's document: first every element and
 * attribute is checked against the rule table below (what vsnap translates,
 * or knows to need nothing); anything else is refused by name. Then the
 * translation reads what it needs. The table is the single list of what
 * `start` understands: adding a device means adding its rows and its code. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "disk_source.h"
#include "mem.h"
#include "path.h"
#include "qemu_argv.h"
#include "xml.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

/* ---- the rule table ----------------------------------------------------- */

typedef struct rule {
    const char *path;     /* element names from below <domain>, '/'-separated */
    const char *attrs;    /* allowed attributes, '|'-separated ("" none) */
    bool skip_children;   /* children are not looked at (metadata, backingStore) */
} rule;

#define PCI_ADDR "type|domain|bus|slot|function|multifunction"

static const rule rules[] = {
    { "", "type", false },
    { "name", "", false },
    { "uuid", "", false },
    { "title", "", false },
    { "description", "", false },
    { "metadata", "", true },
    { "memory", "unit", false },
    { "currentMemory", "unit", false },
    { "vcpu", "placement|current", false },
    /* cgroup placement is libvirt's business; nothing to do without it */
    { "resource", "", false },
    { "resource/partition", "", false },
    { "os", "", false },
    { "os/type", "arch|machine", false },
    { "os/boot", "dev", false },
    { "os/bootmenu", "enable|timeout", false },
    { "os/loader", "readonly|type|secure", false },
    { "os/nvram", "template", false },
    { "os/kernel", "", false },
    { "os/initrd", "", false },
    { "os/cmdline", "", false },
    { "features", "", false },
    { "features/acpi", "", false },
    { "features/apic", "", false },
    { "features/pae", "", false },
    { "features/vmport", "state", false },
    { "features/smm", "state", false },
    { "cpu", "mode|match|check|migratable", false },
    { "cpu/model", "fallback", false },
    { "cpu/feature", "policy|name", false },
    { "cpu/topology", "sockets|dies|cores|threads", false },
    { "clock", "offset", false },
    { "clock/timer", "name|tickpolicy|present", false },
    { "on_poweroff", "", false },
    { "on_reboot", "", false },
    { "on_crash", "", false },
    { "pm", "", false },
    { "pm/suspend-to-mem", "enabled", false },
    { "pm/suspend-to-disk", "enabled", false },
    { "seclabel", "type|model|relabel", false },
    { "devices", "", false },
    { "devices/emulator", "", false },
    { "devices/disk", "type|device|snapshot", false },
    { "devices/disk/driver", "name|type|cache|discard|io|detect_zeroes", false },
    { "devices/disk/source", "file|dev|protocol|name", false },
    { "devices/disk/source/host", "name|port|transport|socket", false },  /* nbd, gluster */
    /* the chain is read from the image headers by QEMU itself */
    { "devices/disk/backingStore", "type|index", true },
    { "devices/disk/target", "dev|bus|tray", false },
    { "devices/disk/readonly", "", false },
    { "devices/disk/serial", "", false },
    { "devices/disk/boot", "order", false },
    { "devices/disk/alias", "name", false },
    { "devices/disk/address", PCI_ADDR "|controller|target|unit", false },
    { "devices/controller", "type|index|model|ports|vectors", false },
    { "devices/controller/model", "name", false },
    { "devices/controller/target", "chassisNr|chassis|port|busNr", false },
    { "devices/controller/address", PCI_ADDR, false },
    { "devices/controller/alias", "name", false },
    { "devices/interface", "type", false },
    { "devices/interface/mac", "address", false },
    { "devices/interface/source", "network|bridge", false },
    { "devices/interface/model", "type", false },
    { "devices/interface/boot", "order", false },
    /* the host-side tap name of a running libvirt domain */
    { "devices/interface/target", "dev", false },
    { "devices/interface/alias", "name", false },
    { "devices/interface/address", PCI_ADDR, false },
    { "devices/serial", "type", false },
    { "devices/serial/source", "path|append", false },
    { "devices/serial/target", "type|port", false },
    { "devices/serial/target/model", "name", false },
    { "devices/serial/log", "file|append", false },
    { "devices/serial/alias", "name", false },
    { "devices/console", "type|tty", false },
    { "devices/console/source", "path|append", false },
    { "devices/console/target", "type|port", false },
    { "devices/console/log", "file|append", false },
    { "devices/console/alias", "name", false },
    { "devices/channel", "type", false },
    { "devices/channel/source", "mode|path", false },
    { "devices/channel/target", "type|name|state", false },
    { "devices/channel/address", "type|controller|bus|port", false },
    { "devices/channel/alias", "name", false },
    { "devices/input", "type|bus", false },
    { "devices/input/alias", "name", false },
    { "devices/input/address", "type|bus|port", false },
    { "devices/graphics", "type|port|autoport|listen|passwd|keymap", false },
    { "devices/graphics/listen", "type|address", false },
    { "devices/video", "", false },
    { "devices/video/model", "type|vram|heads|primary|ram|vgamem", false },
    { "devices/video/address", PCI_ADDR, false },
    { "devices/video/alias", "name", false },
    { "devices/audio", "id|type", false },
    { "devices/memballoon", "model", false },
    { "devices/memballoon/address", PCI_ADDR, false },
    { "devices/memballoon/alias", "name", false },
    { "devices/memballoon/stats", "period", false },
    { "devices/rng", "model", false },
    { "devices/rng/backend", "model", false },
    { "devices/rng/address", PCI_ADDR, false },
    { "devices/rng/alias", "name", false },
    { NULL, NULL, false },
};

static const rule *
find_rule(const char *path)
{
    const rule *r;

    for (r = rules; r->path; r++)
        if (strcmp(r->path, path) == 0)
            return r;
    return NULL;
}

static bool
attr_allowed(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;

    while (*p) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);

        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/* "<name a='v' b='w'>" for messages. Caller frees. */
static char *
describe(xmlNodePtr n)
{
    vs_buf b = VS_BUF_INIT;
    xmlAttrPtr a;

    vs_buf_addf(&b, "<%s%s%s", n->ns && n->ns->prefix ? (const char *)n->ns->prefix : "",
                n->ns && n->ns->prefix ? ":" : "", (const char *)n->name);
    for (a = n->properties; a; a = a->next) {
        xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
        vs_buf_addf(&b, " %s='%s'", (const char *)a->name, v ? (const char *)v : "");
        xmlFree(v);
    }
    vs_buf_add(&b, ">");
    return vs_buf_steal(&b);
}

typedef struct ctx {
    const vs_domain_def *def;
    const vs_qemu_host *host;
    vs_qemu_launch *out;
    vs_error *err;
    char **argv;
    size_t argc, cap;
    bool q35;
    bool pc;              /* an x86 PC (i440fx or q35) */
    const char *arch;
    int next_chardev;
    int next_net;
    bool have_usb;
    bool have_virtio_serial;
    int bootindex_hd, bootindex_cdrom, bootindex_net;
    bool os_boot;         /* <os><boot dev=...> given */
} ctx;

static int
refuse(ctx *c, xmlNodePtr n, const char *why)
{
    char *d = describe(n);
    char *where = n->parent && n->parent->type == XML_ELEMENT_NODE ? describe(n->parent) : NULL;

    vs_error_set(c->err, VS_ERR_CONFIG_UNSUPPORTED, "vsnap cannot start domain '%s': %s%s%s%s%s",
                 c->def->name, d, where ? " in " : "", where ? where : "",
                 why ? ": " : " is not supported", why ? why : "");
    free(d);
    free(where);
    return -1;
}

static int
check_tree(ctx *c, xmlNodePtr n, const char *path)
{
    xmlNodePtr ch;

    for (ch = n->children; ch; ch = ch->next) {
        const rule *r;
        xmlAttrPtr a;
        char *p;
        int rc;

        if (ch->type != XML_ELEMENT_NODE)
            continue;
        if (ch->ns && ch->ns->href && xmlStrEqual(ch->ns->href, BAD_CAST QEMU_NS)) {
            /* <qemu:commandline> with <qemu:arg value=>/<qemu:env name= value=> */
            xmlNodePtr g;

            if (*path || !xmlStrEqual(ch->name, BAD_CAST "commandline"))
                return refuse(c, ch, NULL);
            for (g = ch->children; g; g = g->next) {
                if (g->type != XML_ELEMENT_NODE)
                    continue;
                if (!xmlStrEqual(g->name, BAD_CAST "arg") && !xmlStrEqual(g->name, BAD_CAST "env"))
                    return refuse(c, g, NULL);
            }
            continue;
        }
        p = *path ? vs_xasprintf("%s/%s", path, (const char *)ch->name)
                  : vs_xstrdup((const char *)ch->name);
        if (ch->ns && ch->ns->prefix) {
            free(p);
            return refuse(c, ch, NULL);
        }
        if (!(r = find_rule(p))) {
            free(p);
            return refuse(c, ch, NULL);
        }
        for (a = ch->properties; a; a = a->next) {
            if (!attr_allowed(r->attrs, (const char *)a->name)) {
                char *why = vs_xasprintf("attribute '%s' is not supported", (const char *)a->name);
                free(p);
                rc = refuse(c, ch, why);
                free(why);
                return rc;
            }
        }
        rc = r->skip_children ? 0 : check_tree(c, ch, p);
        free(p);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- argv building ---------------------------------------------------- */

static void
arg(ctx *c, const char *s)
{
    vs_xgrow(&c->argv, &c->cap, c->argc + 1, sizeof(*c->argv));
    c->argv[c->argc++] = vs_xstrdup(s);
    c->argv[c->argc] = NULL;
}

static void
argf(ctx *c, const char *fmt, ...) VS_PRINTF(2, 3);
static void
argf(ctx *c, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    vs_xgrow(&c->argv, &c->cap, c->argc + 1, sizeof(*c->argv));
    c->argv[c->argc++] = s;
    c->argv[c->argc] = NULL;
}

static void
arg2(ctx *c, const char *opt, const char *val)
{
    arg(c, opt);
    arg(c, val);
}

/* QEMU's option syntax doubles commas inside values. */
static void
add_escaped(vs_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ',')
            vs_buf_addc(b, ',');
        vs_buf_addc(b, *s);
    }
}

static bool
is_elem(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !n->ns && xmlStrEqual(n->name, BAD_CAST name);
}

/* check_tree refused every namespaced element that could share a name. */
#define child vs_xml_child

static char *
prop(xmlNodePtr n, const char *name)
{
    return n ? vs_xml_prop(n, name) : NULL;
}

static bool
prop_is(xmlNodePtr n, const char *name, const char *value)
{
    char *v = prop(n, name);
    bool r = v && strcmp(v, value) == 0;

    free(v);
    return r;
}

static char *
text_of(xmlNodePtr n)
{
    char *t = n ? vs_xml_text(n) : NULL;
    char *s, *e;

    if (!t)
        return NULL;
    for (s = t; isspace((unsigned char)*s); s++)
        ;
    for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
        ;
    *e = '\0';
    memmove(t, s, strlen(s) + 1);
    return t;
}

/* libvirt's memory units -> KiB. */
static int
memory_kib(ctx *c, xmlNodePtr n, unsigned long long *kib)
{
    static const struct { const char *u; unsigned long long mul; } units[] = {
        { "b", 1 }, { "bytes", 1 }, { "KB", 1000 }, { "k", 1024 }, { "KiB", 1024 },
        { "MB", 1000000ULL }, { "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
        { "GB", 1000000000ULL }, { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
        { "TB", 1000000000000ULL }, { "T", 1ULL << 40 }, { "TiB", 1ULL << 40 },
    };
    char *t = text_of(n), *u = prop(n, "unit"), *end;
    unsigned long long v, mul = 1024;
    size_t i;
    int ret = -1;

    if (u) {
        mul = 0;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strcmp(u, units[i].u) == 0)
                mul = units[i].mul;
    }
    errno = 0;
    v = t ? strtoull(t, &end, 10) : 0;
    if (!t || !*t || *end || errno || !mul || v == 0 || v > (1ULL << 50) / mul) {
        refuse(c, n, "not a memory size vsnap understands");
        goto out;
    }
    *kib = (v * mul + 1023) / 1024;
    ret = 0;
 out:
    free(t);
    free(u);
    return ret;
}

static int
parse_uint(const char *s, unsigned long *v)
{
    char *end;

    if (!s || !*s)
        return -1;
    errno = 0;
    *v = strtoul(s, &end, 0);
    return (*end || errno) ? -1 : 0;
}

/* ",bus=pci.B,addr=0xS.0xF" from a PCI <address>, "" when there is none. */
static int
pci_address(ctx *c, xmlNodePtr dev, vs_buf *b)
{
    xmlNodePtr a = child(dev, "address");
    char *type, *bus, *slot, *fn, *dom;
    unsigned long vb = 0, vs = 0, vf = 0, vd = 0;
    int ret = 0;

    if (!a)
        return 0;
    type = prop(a, "type");
    if (!type || strcmp(type, "pci") != 0) {
        free(type);
        return refuse(c, a, "only PCI addresses are supported here");
    }
    dom = prop(a, "domain");
    bus = prop(a, "bus");
    slot = prop(a, "slot");
    fn = prop(a, "function");
    if ((dom && parse_uint(dom, &vd) < 0) || (bus && parse_uint(bus, &vb) < 0) ||
        (slot && parse_uint(slot, &vs) < 0) || (fn && parse_uint(fn, &vf) < 0) ||
        vd != 0 || vs > 31 || vf > 7) {
        ret = refuse(c, a, "not a PCI address QEMU can use");
    } else {
        if (vb == 0)
            vs_buf_addf(b, ",bus=%s", c->q35 ? "pcie.0" : "pci.0");
        else
            vs_buf_addf(b, ",bus=pci.%lu", vb);
        vs_buf_addf(b, ",addr=0x%lx", vs);
        if (vf)
            vs_buf_addf(b, ".0x%lx", vf);
        if (prop_is(a, "multifunction", "on"))
            vs_buf_add(b, ",multifunction=on");
    }
    free(type);
    free(dom);
    free(bus);
    free(slot);
    free(fn);
    return ret;
}

/* ---- machine, cpu, memory --------------------------------------------- */

static const char *
emulator_arch(const char *arch)
{
    if (strcmp(arch, "i686") == 0)
        return "i386";
    return arch;
}

static int
machine(ctx *c, xmlNodePtr root)
{
    xmlNodePtr os = child(root, "os"), type = child(os, "type"), feat = child(root, "features");
    xmlNodePtr pm = child(root, "pm"), n;
    char *mach = prop(type, "machine"), *arch = prop(type, "arch"), *t = text_of(type);
    vs_buf b = VS_BUF_INIT;
    int ret = -1;

    if (t && *t && strcmp(t, "hvm") != 0) {
        refuse(c, type, "only hvm guests are supported");
        goto out;
    }
    c->arch = arch && strcmp(arch, "i686") == 0 ? "i686" :
              arch && strcmp(arch, "aarch64") == 0 ? "aarch64" : "x86_64";
    if (arch && strcmp(arch, c->arch) != 0) {
        refuse(c, type, "vsnap starts x86_64, i686 and aarch64 guests");
        goto out;
    }
    if (!mach)
        mach = vs_xstrdup(strcmp(c->arch, "aarch64") == 0 ? "virt" : "pc");
    c->q35 = strstr(mach, "q35") != NULL;
    c->pc = strcmp(c->arch, "aarch64") != 0;
    add_escaped(&b, mach);
    /* accel */
    if (c->def->type && strcmp(c->def->type, "kvm") == 0) {
        if (!c->host->kvm_ok) {
            vs_error_set(c->err, VS_ERR_CONFIG_UNSUPPORTED,
                         "vsnap cannot start domain '%s': <domain type='kvm'> needs /dev/kvm, "
                         "which cannot be used here; use <domain type='qemu'> for emulation (TCG)",
                         c->def->name);
            goto out;
        }
        c->out->kvm = true;
        vs_buf_add(&b, ",accel=kvm");
    } else if (!c->def->type || strcmp(c->def->type, "qemu") == 0) {
        vs_buf_add(&b, ",accel=tcg");
    } else {
        vs_error_set(c->err, VS_ERR_CONFIG_UNSUPPORTED,
                     "vsnap cannot start domain '%s': <domain type='%s'> is not a QEMU domain; "
                     "use 'qemu' (TCG) or 'kvm'", c->def->name, c->def->type);
        goto out;
    }
    if (c->pc && !child(feat, "acpi"))
        vs_buf_add(&b, ",acpi=off");
    if ((n = child(feat, "vmport"))) {
        char *s = prop(n, "state");
        vs_buf_addf(&b, ",vmport=%s", s && strcmp(s, "on") == 0 ? "on" : "off");
        free(s);
    }
    if ((n = child(feat, "smm"))) {
        char *s = prop(n, "state");
        vs_buf_addf(&b, ",smm=%s", s && strcmp(s, "off") == 0 ? "off" : "on");
        free(s);
    }
    /* UEFI: pflash0 is the code, pflash1 the variables */
    if ((n = child(os, "loader")) && prop_is(n, "type", "pflash")) {
        vs_buf_add(&b, ",pflash0=vsnap-pflash0-format");
        if (child(os, "nvram"))
            vs_buf_add(&b, ",pflash1=vsnap-pflash1-format");
    }
    arg2(c, "-machine", vs_buf_str(&b));
    vs_buf_reset(&b);
    for (n = pm ? pm->children : NULL; n; n = n->next) {
        const char *dev = c->q35 ? "ICH9-LPC" : "PIIX4_PM";
        if (!is_elem(n, "suspend-to-mem") && !is_elem(n, "suspend-to-disk"))
            continue;
        char *g = vs_xasprintf("%s.disable_s%d=%d", dev, is_elem(n, "suspend-to-mem") ? 3 : 4,
                               prop_is(n, "enabled", "no") ? 1 : 0);
        arg2(c, "-global", g);
        free(g);
    }
    ret = 0;
 out:
    free(mach);
    free(arch);
    free(t);
    vs_buf_reset(&b);
    return ret;
}

static int
cpu_and_memory(ctx *c, xmlNodePtr root)
{
    xmlNodePtr mem = child(root, "memory"), vcpu = child(root, "vcpu"), cpu = child(root, "cpu");
    xmlNodePtr topo = child(cpu, "topology"), n;
    unsigned long long kib;
    unsigned long nv = 1, cur = 0;
    char *s;
    vs_buf b = VS_BUF_INIT;

    if (!mem) {
        vs_error_set(c->err, VS_ERR_CONFIG_UNSUPPORTED,
                     "vsnap cannot start domain '%s': it has no <memory>", c->def->name);
        return -1;
    }
    if (memory_kib(c, mem, &kib) < 0)
        return -1;
    argf(c, "-m");
    argf(c, "size=%lluk", kib);
    if (vcpu) {
        s = text_of(vcpu);
        if (parse_uint(s, &nv) < 0 || nv == 0 || nv > 1024) {
            free(s);
            return refuse(c, vcpu, "not a vCPU count");
        }
        free(s);
        if ((s = prop(vcpu, "current"))) {
            if (parse_uint(s, &cur) < 0 || cur == 0 || cur > nv) {
                free(s);
                return refuse(c, vcpu, "current= must be 1 to the vCPU count");
            }
            free(s);
        }
        if ((s = prop(vcpu, "placement")) && strcmp(s, "static") != 0) {
            free(s);
            return refuse(c, vcpu, "only placement='static' is supported");
        }
        free(s);
    }
    vs_buf_addf(&b, "%lu", cur ? cur : nv);
    if (cur && cur != nv)
        vs_buf_addf(&b, ",maxcpus=%lu", nv);
    if (topo) {
        static const char *const keys[] = { "sockets", "dies", "cores", "threads" };
        size_t i;

        for (i = 0; i < 4; i++) {
            unsigned long v;
            if (!(s = prop(topo, keys[i])))
                continue;
            if (parse_uint(s, &v) < 0 || v == 0) {
                free(s);
                vs_buf_reset(&b);
                return refuse(c, topo, "not a CPU topology");
            }
            vs_buf_addf(&b, ",%s=%lu", keys[i], v);
            free(s);
        }
    }
    arg2(c, "-smp", vs_buf_str(&b));
    vs_buf_reset(&b);

    if (cpu) {
        char *mode = prop(cpu, "mode");
        int ret = 0;

        if (!mode || strcmp(mode, "custom") == 0) {
            char *model = text_of(child(cpu, "model"));

            if (model && *model) {
                add_escaped(&b, model);
                for (n = cpu->children; n; n = n->next) {
                    char *pol, *name;

                    if (!is_elem(n, "feature"))
                        continue;
                    pol = prop(n, "policy");
                    name = prop(n, "name");
                    if (!name || (pol && strcmp(pol, "require") != 0 && strcmp(pol, "force") != 0 &&
                                  strcmp(pol, "disable") != 0 && strcmp(pol, "forbid") != 0)) {
                        ret = refuse(c, n, "policy must be require, force, disable or forbid");
                    } else {
                        bool off = pol && (strcmp(pol, "disable") == 0 || strcmp(pol, "forbid") == 0);
                        vs_buf_addf(&b, ",%s=%s", name, off ? "off" : "on");
                    }
                    free(pol);
                    free(name);
                    if (ret < 0)
                        break;
                }
                if (ret == 0)
                    arg2(c, "-cpu", vs_buf_str(&b));
            }
            free(model);
        } else if (strcmp(mode, "host-passthrough") == 0 || strcmp(mode, "host-model") == 0) {
            if (!c->out->kvm)
                ret = refuse(c, cpu, "the host CPU model needs <domain type='kvm'>");
            else
                arg2(c, "-cpu", "host");
        } else if (strcmp(mode, "maximum") == 0) {
            arg2(c, "-cpu", "max");
        } else {
            ret = refuse(c, cpu, NULL);
        }
        free(mode);
        vs_buf_reset(&b);
        if (ret < 0)
            return -1;
    }
    return 0;
}

static int
clock_and_events(ctx *c, xmlNodePtr root)
{
    xmlNodePtr clk = child(root, "clock"), n;
    char *off = prop(clk, "offset");
    vs_buf b = VS_BUF_INIT;
    int ret = 0;
    static const char *const evs[] = { "on_poweroff", "on_reboot", "on_crash" };
    size_t i;

    if (off && strcmp(off, "utc") != 0 && strcmp(off, "localtime") != 0) {
        free(off);
        return refuse(c, clk, "only offset='utc' or 'localtime' is supported");
    }
    vs_buf_addf(&b, "base=%s", off ? off : "utc");
    free(off);
    for (n = clk ? clk->children : NULL; n && ret == 0; n = n->next) {
        char *name, *tp;

        if (!is_elem(n, "timer"))
            continue;
        name = prop(n, "name");
        tp = prop(n, "tickpolicy");
        if (name && strcmp(name, "rtc") == 0) {
            if (tp && strcmp(tp, "catchup") == 0)
                vs_buf_add(&b, ",driftfix=slew");
            else if (tp && strcmp(tp, "delay") != 0)
                ret = refuse(c, n, "tickpolicy must be catchup or delay");
        } else if (name && strcmp(name, "pit") == 0) {
            if (tp && strcmp(tp, "delay") == 0 && c->out->kvm) {
                arg2(c, "-global", "kvm-pit.lost_tick_policy=delay");
            } else if (tp && strcmp(tp, "delay") != 0) {
                ret = refuse(c, n, "tickpolicy must be delay");
            }
        } else if (name && strcmp(name, "hpet") == 0) {
            if (prop_is(n, "present", "no"))
                arg(c, "-no-hpet");
        } else if (!name || (strcmp(name, "kvmclock") != 0 && strcmp(name, "tsc") != 0)) {
            ret = refuse(c, n, NULL);
        } else if (prop_is(n, "present", "no") || tp) {
            ret = refuse(c, n, NULL);
        }
        free(name);
        free(tp);
    }
    if (ret == 0)
        arg2(c, "-rtc", vs_buf_str(&b));
    vs_buf_reset(&b);
    if (ret < 0)
        return -1;
    for (i = 0; i < 3; i++) {
        char *v;

        if (!(n = child(root, evs[i])))
            continue;
        v = text_of(n);
        if (i == 1 && strcmp(v, "destroy") == 0) {
            arg(c, "-no-reboot");
        } else if (strcmp(v, i == 1 ? "restart" : "destroy") != 0) {
            free(v);
            return refuse(c, n, i == 1 ? "only restart or destroy are supported"
                                       : "only destroy is supported");
        }
        free(v);
    }
    return 0;
}

/* ---- boot, firmware ---------------------------------------------------- */

static int
boot_and_firmware(ctx *c, xmlNodePtr root)
{
    xmlNodePtr os = child(root, "os"), n;
    int idx = 1;
    char *s;

    for (n = os ? os->children : NULL; n; n = n->next) {
        if (!is_elem(n, "boot"))
            continue;
        s = prop(n, "dev");
        c->os_boot = true;
        if (s && strcmp(s, "hd") == 0 && !c->bootindex_hd)
            c->bootindex_hd = idx++;
        else if (s && strcmp(s, "cdrom") == 0 && !c->bootindex_cdrom)
            c->bootindex_cdrom = idx++;
        else if (s && strcmp(s, "network") == 0 && !c->bootindex_net)
            c->bootindex_net = idx++;
        else if (!s || (strcmp(s, "hd") != 0 && strcmp(s, "cdrom") != 0 && strcmp(s, "network") != 0)) {
            free(s);
            return refuse(c, n, "only hd, cdrom and network boot devices are supported");
        }
        free(s);
    }
    if ((n = child(os, "bootmenu")) && prop_is(n, "enable", "yes"))
        arg2(c, "-boot", "menu=on,strict=on");
    else
        arg2(c, "-boot", "strict=on");
    if ((n = child(os, "loader"))) {
        char *path = text_of(n), *type = prop(n, "type");
        int ret = 0;

        if (!path || !*path) {
            ret = refuse(c, n, "it names no firmware file");
        } else if (!type || strcmp(type, "rom") == 0) {
            arg2(c, "-bios", path);
        } else if (strcmp(type, "pflash") == 0) {
            json_object *o = json_object_new_object();
            xmlNodePtr nv = child(os, "nvram");

            json_object_object_add(o, "driver", json_object_new_string("file"));
            json_object_object_add(o, "filename", json_object_new_string(path));
            json_object_object_add(o, "node-name", json_object_new_string("vsnap-pflash0-storage"));
            json_object_object_add(o, "read-only", json_object_new_boolean(!prop_is(n, "readonly", "no")));
            arg2(c, "-blockdev", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
            json_object_put(o);
            argf(c, "-blockdev");
            argf(c, "{\"node-name\":\"vsnap-pflash0-format\",\"driver\":\"raw\",\"read-only\":%s,"
                    "\"file\":\"vsnap-pflash0-storage\"}",
                 prop_is(n, "readonly", "no") ? "false" : "true");
            if (prop_is(n, "secure", "yes"))
                arg2(c, "-global", "driver=cfi.pflash01,property=secure,value=on");
            if (nv) {
                char *vars = text_of(nv);

                if (!vars || !*vars) {
                    ret = refuse(c, nv, "it names no variables file");
                } else {
                    c->out->nvram = vs_xstrdup(vars);
                    c->out->nvram_template = prop(nv, "template");
                    o = json_object_new_object();
                    json_object_object_add(o, "driver", json_object_new_string("file"));
                    json_object_object_add(o, "filename", json_object_new_string(vars));
                    json_object_object_add(o, "node-name",
                                           json_object_new_string("vsnap-pflash1-storage"));
                    arg2(c, "-blockdev", json_object_to_json_string_ext(
                             o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                    json_object_put(o);
                    arg2(c, "-blockdev", "{\"node-name\":\"vsnap-pflash1-format\",\"driver\":\"raw\","
                                         "\"read-only\":false,\"file\":\"vsnap-pflash1-storage\"}");
                }
                free(vars);
            }
        } else {
            ret = refuse(c, n, "type must be rom or pflash");
        }
        free(path);
        free(type);
        if (ret < 0)
            return -1;
    } else if (child(os, "nvram")) {
        return refuse(c, child(os, "nvram"), "it needs a <loader type='pflash'>");
    }
    if ((n = child(os, "kernel"))) {
        s = text_of(n);
        arg2(c, "-kernel", s);
        free(s);
    }
    if ((n = child(os, "initrd"))) {
        s = text_of(n);
        arg2(c, "-initrd", s);
        free(s);
    }
    if ((n = child(os, "cmdline"))) {
        s = text_of(n);
        arg2(c, "-append", s);
        free(s);
    }
    return 0;
}

/* ---- disks -------------------------------------------------------------- */

char *
vs_qemu_node_name(const char *target, unsigned gen, bool format)
{
    return vs_xasprintf("vsnap-%s-%u-%s", target, gen, format ? "format" : "storage");
}

static bool
target_ok(const char *t)
{
    size_t i, n = t ? strlen(t) : 0;

    if (n == 0 || n > 8 || !islower((unsigned char)t[0]))
        return false;
    for (i = 0; i < n; i++)
        if (!islower((unsigned char)t[i]) && !isdigit((unsigned char)t[i]))
            return false;
    return true;
}

/* "sda" -> 0, "hdc" -> 2, "sdaa" -> 26: libvirt's index from a target name. */
static long
target_index(const char *t)
{
    long idx = 0;
    size_t i;

    if (strlen(t) < 3)
        return -1;
    for (i = 2; t[i]; i++) {
        if (t[i] < 'a' || t[i] > 'z')
            return -1;
        idx = idx * 26 + (t[i] - 'a' + 1);
    }
    return idx - 1;
}

static const char *const disk_formats[] = {
    "raw", "qcow2", "qed", "vmdk", "vdi", "vhdx", "vpc", "qcow", "luks", NULL,
};

static int
disk_cache(ctx *c, xmlNodePtr drv, json_object *storage, json_object *format, bool *wce)
{
    char *cache = prop(drv, "cache");
    bool direct = false, noflush = false;
    int ret = 0;

    *wce = true;
    if (!cache || strcmp(cache, "default") == 0 || strcmp(cache, "writeback") == 0)
        ;
    else if (strcmp(cache, "none") == 0)
        direct = true;
    else if (strcmp(cache, "writethrough") == 0)
        *wce = false;
    else if (strcmp(cache, "directsync") == 0)
        direct = true, *wce = false;
    else if (strcmp(cache, "unsafe") == 0)
        noflush = true;
    else
        ret = refuse(c, drv, "cache must be none, writeback, writethrough, directsync or unsafe");
    if (ret == 0 && cache) {
        json_object *co = json_object_new_object();
        json_object_object_add(co, "direct", json_object_new_boolean(direct));
        json_object_object_add(co, "no-flush", json_object_new_boolean(noflush));
        json_object_object_add(storage, "cache", co);
        co = json_object_new_object();
        json_object_object_add(co, "direct", json_object_new_boolean(direct));
        json_object_object_add(co, "no-flush", json_object_new_boolean(noflush));
        json_object_object_add(format, "cache", co);
    }
    free(cache);
    return ret;
}

static int
disk_drv_opts(ctx *c, xmlNodePtr drv, json_object *storage, json_object *format)
{
    char *s;

    if ((s = prop(drv, "discard"))) {
        if (strcmp(s, "unmap") != 0 && strcmp(s, "ignore") != 0) {
            free(s);
            return refuse(c, drv, "discard must be unmap or ignore");
        }
        json_object_object_add(storage, "discard", json_object_new_string(s));
        json_object_object_add(format, "discard", json_object_new_string(s));
        free(s);
    }
    if ((s = prop(drv, "io"))) {
        if (strcmp(s, "native") != 0 && strcmp(s, "threads") != 0 && strcmp(s, "io_uring") != 0) {
            free(s);
            return refuse(c, drv, "io must be native, threads or io_uring");
        }
        json_object_object_add(storage, "aio", json_object_new_string(s));
        free(s);
    }
    if ((s = prop(drv, "detect_zeroes"))) {
        if (strcmp(s, "off") != 0 && strcmp(s, "on") != 0 && strcmp(s, "unmap") != 0) {
            free(s);
            return refuse(c, drv, "detect_zeroes must be off, on or unmap");
        }
        json_object_object_add(format, "detect-zeroes", json_object_new_string(s));
        free(s);
    }
    if ((s = prop(drv, "name")) && strcmp(s, "qemu") != 0) {
        free(s);
        return refuse(c, drv, "the driver name must be qemu");
    }
    free(s);
    return 0;
}

static void
add_json_arg(ctx *c, const char *opt, json_object *o)
{
    arg2(c, opt, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int
drive_address(ctx *c, xmlNodePtr dnode, const char *target, const char *bus,
              unsigned long *ctrl, unsigned long *abus, unsigned long *unit)
{
    xmlNodePtr a = child(dnode, "address");
    long idx;

    *ctrl = *abus = *unit = 0;
    if (a && prop_is(a, "type", "drive")) {
        char *s;
        unsigned long tgt = 0;

        if ((s = prop(a, "controller")) && parse_uint(s, ctrl) < 0)
            goto bad;
        free(s);
        if ((s = prop(a, "bus")) && parse_uint(s, abus) < 0)
            goto bad;
        free(s);
        if ((s = prop(a, "target")) && (parse_uint(s, &tgt) < 0 || tgt != 0))
            goto bad;
        free(s);
        if ((s = prop(a, "unit")) && parse_uint(s, unit) < 0)
            goto bad;
        free(s);
        return 0;
 bad:
        free(s);
        return refuse(c, a, "not a drive address vsnap can use");
    }
    if (a)
        return refuse(c, a, "a disk on this bus needs a drive address");
    if ((idx = target_index(target)) < 0)
        return refuse(c, dnode, "the target name gives no unit");
    if (strcmp(bus, "ide") == 0) {
        *abus = (unsigned long)idx / 2;
        *unit = (unsigned long)idx % 2;
    } else if (strcmp(bus, "sata") == 0) {
        *ctrl = (unsigned long)idx / 6;
        *unit = (unsigned long)idx % 6;
    } else {
        *ctrl = (unsigned long)idx / 7;
        *unit = (unsigned long)idx % 7;
    }
    return 0;
}

static int
one_disk(ctx *c, const vs_domain_disk *d)
{
    xmlNodePtr n = d->node, drv = child(n, "driver"), bootn = child(n, "boot");
    bool cdrom = d->device && strcmp(d->device, "cdrom") == 0;
    bool ro = d->readonly || cdrom;
    const char *fmt = d->format ? d->format : "raw";
    const char *bus = d->bus;
    json_object *storage = NULL, *format = NULL;
    vs_buf dev = VS_BUF_INIT;
    char *sn = NULL, *fn = NULL, *serial = NULL;
    bool wce = true;
    int bootindex = 0, ret = -1;
    size_t i;

    if (d->device && strcmp(d->device, "disk") != 0 && !cdrom)
        return refuse(c, n, "only device='disk' and 'cdrom' are supported");
    if (d->type == VS_STORAGE_NETWORK ? !vs_path_is_network(d->source)
                                      : d->type != VS_STORAGE_FILE && d->type != VS_STORAGE_BLOCK)
        return refuse(c, n, "only type='file' and 'block' disks, and 'network' disks of "
                            "protocol 'nbd' or 'gluster', are supported");
    if (!target_ok(d->target))
        return refuse(c, n, "the target must be 1-8 characters [a-z0-9] starting with a letter");
    if (!bus)
        bus = strncmp(d->target, "vd", 2) == 0 ? "virtio" :
              strncmp(d->target, "hd", 2) == 0 ? "ide" : strncmp(d->target, "sd", 2) == 0 ? "scsi" : "";
    if (strcmp(bus, "virtio") != 0 && strcmp(bus, "sata") != 0 && strcmp(bus, "ide") != 0 &&
        strcmp(bus, "scsi") != 0)
        return refuse(c, child(n, "target"), "the bus must be virtio, sata, ide or scsi");
    if (strcmp(bus, "ide") == 0 && c->q35)
        return refuse(c, child(n, "target"), "a q35 machine has no IDE bus; use sata");
    if (cdrom && strcmp(bus, "virtio") == 0)
        return refuse(c, child(n, "target"), "a cdrom cannot be on virtio");
    if (d->readonly && !cdrom && (strcmp(bus, "ide") == 0 || strcmp(bus, "sata") == 0))
        return refuse(c, child(n, "readonly"), "readonly ide and sata disks are not supported");
    for (i = 0; disk_formats[i] && strcmp(disk_formats[i], fmt) != 0; i++)
        ;
    if (!disk_formats[i])
        return refuse(c, drv, "not a disk format QEMU opens");
    if (bootn) {
        char *o = prop(bootn, "order");
        unsigned long v;

        if (c->os_boot) {
            free(o);
            return refuse(c, bootn, "per-device boot elements cannot be used together with os/boot elements");
        }
        if (parse_uint(o, &v) < 0 || v == 0 || v > 9999) {
            free(o);
            return refuse(c, bootn, "order must be a positive number");
        }
        bootindex = (int)v;
        free(o);
    } else if (cdrom && c->bootindex_cdrom > 0) {
        bootindex = c->bootindex_cdrom;
        c->bootindex_cdrom = -1;
    } else if (!cdrom && c->bootindex_hd > 0) {
        bootindex = c->bootindex_hd;
        c->bootindex_hd = -1;
    }

    if (d->source) {
        sn = vs_qemu_node_name(d->target, 0, false);
        fn = vs_qemu_node_name(d->target, 0, true);
        format = json_object_new_object();
        if (d->type == VS_STORAGE_NETWORK) {
            /* every host of the <source>, as disk_source.c maps it */
            vs_net_source ns;
            vs_error e;

            if (vs_net_source_from_xml(child(n, "source"), &ns, &e) < 0) {
                refuse(c, child(n, "source"), e.msg);
                goto out;
            }
            storage = vs_net_source_blockdev(&ns);
            vs_net_source_clear(&ns);
        } else {
            storage = json_object_new_object();
            json_object_object_add(storage, "driver",
                                   json_object_new_string(d->type == VS_STORAGE_BLOCK ? "host_device" : "file"));
            json_object_object_add(storage, "filename", json_object_new_string(d->source));
        }
        json_object_object_add(storage, "node-name", json_object_new_string(sn));
        json_object_object_add(storage, "auto-read-only", json_object_new_boolean(1));
        json_object_object_add(format, "node-name", json_object_new_string(fn));
        json_object_object_add(format, "driver", json_object_new_string(fmt));
        json_object_object_add(format, "file", json_object_new_string(sn));
        if (ro) {
            json_object_object_add(storage, "read-only", json_object_new_boolean(1));
            json_object_object_add(format, "read-only", json_object_new_boolean(1));
        } else {
            json_object_object_add(format, "read-only", json_object_new_boolean(0));
        }
        if (drv && (disk_cache(c, drv, storage, format, &wce) < 0 ||
                    disk_drv_opts(c, drv, storage, format) < 0))
            goto out;
        add_json_arg(c, "-blockdev", storage);
        add_json_arg(c, "-blockdev", format);
    } else if (!cdrom) {
        refuse(c, n, "a disk needs a <source>");
        goto out;
    } else if (drv && disk_drv_opts(c, drv, json_object_new_object(), json_object_new_object()) < 0) {
        goto out;
    }

    if (strcmp(bus, "virtio") == 0) {
        vs_buf_add(&dev, "virtio-blk-pci");
        if (pci_address(c, n, &dev) < 0)
            goto out;
    } else {
        unsigned long ctrl, abus, unit;

        if (drive_address(c, n, d->target, bus, &ctrl, &abus, &unit) < 0)
            goto out;
        vs_buf_add(&dev, cdrom ? (strcmp(bus, "scsi") == 0 ? "scsi-cd" : "ide-cd")
                               : (strcmp(bus, "scsi") == 0 ? "scsi-hd" : "ide-hd"));
        if (strcmp(bus, "ide") == 0) {
            if (abus > 1 || unit > 1) {
                refuse(c, n, "a PC has two IDE buses of two units each");
                goto out;
            }
            vs_buf_addf(&dev, ",bus=ide.%lu,unit=%lu", abus, unit);
        } else if (strcmp(bus, "sata") == 0) {
            if (abus != 0 || unit > 5 || (c->q35 && ctrl != 0)) {
                refuse(c, n, "a SATA controller has six ports (bus 0, units 0-5)");
                goto out;
            }
            if (c->q35)
                vs_buf_addf(&dev, ",bus=ide.%lu", unit);
            else
                vs_buf_addf(&dev, ",bus=sata%lu.%lu", ctrl, unit);
        } else {
            vs_buf_addf(&dev, ",bus=scsi%lu.0,channel=%lu,scsi-id=0,lun=%lu", ctrl, abus, unit);
        }
    }
    if (fn)
        vs_buf_addf(&dev, ",drive=%s", fn);
    vs_buf_addf(&dev, ",id=%s", d->target);
    if (bootindex > 0)
        vs_buf_addf(&dev, ",bootindex=%d", bootindex);
    if (!wce)
        vs_buf_add(&dev, ",write-cache=off");
    if ((serial = text_of(child(n, "serial"))) && *serial) {
        vs_buf_add(&dev, ",serial=");
        add_escaped(&dev, serial);
    }
    arg2(c, "-device", vs_buf_str(&dev));
    ret = 0;
 out:
    json_object_put(storage);
    json_object_put(format);
    vs_buf_reset(&dev);
    free(sn);
    free(fn);
    free(serial);
    return ret;
}

/* ---- controllers and other devices ------------------------------------- */

static int
controllers(ctx *c, xmlNodePtr devs, bool *have_sata, bool *have_scsi)
{
    xmlNodePtr n;
    int ret = 0;

    for (n = devs->children; n && ret == 0; n = n->next) {
        char *type, *model, *idx;
        unsigned long index = 0;
        vs_buf b = VS_BUF_INIT;

        if (!is_elem(n, "controller"))
            continue;
        type = prop(n, "type");
        model = prop(n, "model");
        idx = prop(n, "index");
        if (idx && parse_uint(idx, &index) < 0) {
            ret = refuse(c, n, "index must be a number");
        } else if (!type) {
            ret = refuse(c, n, "it has no type");
        } else if (strcmp(type, "usb") == 0) {
            if (model && strcmp(model, "none") == 0) {
                ;
            } else if (!model || strcmp(model, "piix3-uhci") == 0 || strcmp(model, "qemu-xhci") == 0 ||
                       strcmp(model, "nec-xhci") == 0) {
                vs_buf_addf(&b, "%s,id=usb", !model || strcmp(model, "piix3-uhci") == 0 ?
                            "piix3-usb-uhci" : model);
                if (index != 0)
                    ret = refuse(c, n, "vsnap supports one USB controller");
                else if ((ret = pci_address(c, n, &b)) == 0)
                    arg2(c, "-device", vs_buf_str(&b));
                c->have_usb = true;
            } else {
                ret = refuse(c, n, "the USB model must be none, piix3-uhci, qemu-xhci or nec-xhci");
            }
        } else if (strcmp(type, "pci") == 0) {
            if (model && (strcmp(model, "pci-root") == 0 || strcmp(model, "pcie-root") == 0)) {
                if (index != 0 || (c->q35 != (strcmp(model, "pcie-root") == 0)))
                    ret = refuse(c, n, "the root bus does not match the machine type");
            } else if (model && strcmp(model, "pcie-root-port") == 0) {
                xmlNodePtr t = child(n, "target");
                char *chassis = prop(t, "chassis"), *port = prop(t, "port");

                vs_buf_addf(&b, "pcie-root-port,port=%s,chassis=%s,id=pci.%lu",
                            port ? port : "0", chassis ? chassis : idx ? idx : "0", index);
                if ((ret = pci_address(c, n, &b)) == 0)
                    arg2(c, "-device", vs_buf_str(&b));
                free(chassis);
                free(port);
            } else {
                ret = refuse(c, n, "vsnap supports pci-root, pcie-root and pcie-root-port");
            }
        } else if (strcmp(type, "sata") == 0) {
            *have_sata = true;
            if (c->q35) {
                if (index != 0)
                    ret = refuse(c, n, "a q35 machine has one built-in SATA controller");
            } else {
                vs_buf_addf(&b, "ahci,id=sata%lu", index);
                if ((ret = pci_address(c, n, &b)) == 0)
                    arg2(c, "-device", vs_buf_str(&b));
            }
        } else if (strcmp(type, "ide") == 0) {
            if (c->q35 || index != 0)
                ret = refuse(c, n, "only a PC's built-in IDE controller is supported");
        } else if (strcmp(type, "scsi") == 0) {
            *have_scsi = true;
            if (!model || strcmp(model, "lsilogic") == 0)
                vs_buf_addf(&b, "lsi53c895a,id=scsi%lu", index);
            else if (strcmp(model, "virtio-scsi") == 0)
                vs_buf_addf(&b, "virtio-scsi-pci,id=scsi%lu", index);
            else
                ret = refuse(c, n, "the SCSI model must be lsilogic or virtio-scsi");
            if (ret == 0 && (ret = pci_address(c, n, &b)) == 0)
                arg2(c, "-device", vs_buf_str(&b));
        } else if (strcmp(type, "virtio-serial") == 0) {
            vs_buf_addf(&b, "virtio-serial-pci,id=virtio-serial%lu", index);
            if (index != 0)
                ret = refuse(c, n, "vsnap supports one virtio-serial controller");
            else if ((ret = pci_address(c, n, &b)) == 0)
                arg2(c, "-device", vs_buf_str(&b));
            c->have_virtio_serial = true;
        } else {
            ret = refuse(c, n, NULL);
        }
        vs_buf_reset(&b);
        free(type);
        free(model);
        free(idx);
    }
    return ret;
}

static char *
network_bridge(ctx *c, xmlNodePtr iface, const char *net)
{
    const char *dir = c->host->network_dir ? c->host->network_dir : "/etc/libvirt/qemu/networks";
    char *path, *data = NULL, *br = NULL;
    size_t len;
    xmlDocPtr doc;
    vs_error e;

    if (vs_name_check("network", net, &e) < 0) {
        refuse(c, iface, "not a network name");
        return NULL;
    }
    path = vs_xasprintf("%s/%s.xml", dir, net);
    if (vs_file_read(path, VS_XML_MAX_SIZE, &data, &len, &e) == 0 &&
        (doc = vs_xml_parse(data, len, path, &e))) {
        xmlNodePtr b = vs_xml_child(xmlDocGetRootElement(doc), "bridge");
        br = b ? vs_xml_prop(b, "name") : NULL;
        xmlFreeDoc(doc);
    }
    free(data);
    if (!br || !*br) {
        char *why = vs_xasprintf("libvirt's network '%s' has no bridge vsnap can find in %s; "
                                 "use <interface type='bridge'> with its bridge or type='user'",
                                 net, path);
        free(br);
        br = NULL;
        refuse(c, iface, why);
        free(why);
    }
    free(path);
    return br;
}

static int
interfaces(ctx *c, xmlNodePtr devs)
{
    xmlNodePtr n;
    int ret = 0;

    for (n = devs->children; n && ret == 0; n = n->next) {
        char *type, *mac = NULL, *model = NULL, *br = NULL;
        xmlNodePtr src, bootn;
        vs_buf nd = VS_BUF_INIT, dv = VS_BUF_INIT;
        int id;

        if (!is_elem(n, "interface"))
            continue;
        id = c->next_net++;
        type = prop(n, "type");
        src = child(n, "source");
        if (type && strcmp(type, "user") == 0) {
            vs_buf_addf(&nd, "user,id=hostnet%d", id);
        } else if (type && (strcmp(type, "bridge") == 0 || strcmp(type, "network") == 0)) {
            if (strcmp(type, "bridge") == 0) {
                br = prop(src, "bridge");
                if (!br || !*br)
                    ret = refuse(c, n, "it names no bridge");
            } else {
                char *net = prop(src, "network");
                if (!net)
                    ret = refuse(c, n, "it names no network");
                else if (!(br = network_bridge(c, n, net)))
                    ret = -1;
                free(net);
            }
            if (ret == 0) {
                vs_buf_addf(&nd, "bridge,id=hostnet%d,br=", id);
                add_escaped(&nd, br);
            }
        } else {
            ret = refuse(c, n, "only type='user', 'bridge' and 'network' interfaces are supported");
        }
        if (ret == 0) {
            model = prop(child(n, "model"), "type");
            if (model && strcmp(model, "virtio") == 0)
                vs_buf_add(&dv, "virtio-net-pci");
            else if (!model || strcmp(model, "rtl8139") == 0 || strcmp(model, "e1000") == 0 ||
                     strcmp(model, "e1000e") == 0)
                vs_buf_add(&dv, model ? model : "rtl8139");
            else
                ret = refuse(c, child(n, "model"), "the model must be virtio, e1000, e1000e or rtl8139");
        }
        if (ret == 0) {
            vs_buf_addf(&dv, ",netdev=hostnet%d,id=net%d", id, id);
            if ((mac = prop(child(n, "mac"), "address")))
                vs_buf_addf(&dv, ",mac=%s", mac);
            if ((bootn = child(n, "boot"))) {
                char *o = prop(bootn, "order");
                unsigned long v;
                if (c->os_boot || parse_uint(o, &v) < 0 || v == 0)
                    ret = refuse(c, bootn, "not a boot order vsnap can use");
                else
                    vs_buf_addf(&dv, ",bootindex=%lu", v);
                free(o);
            } else if (c->bootindex_net > 0) {
                vs_buf_addf(&dv, ",bootindex=%d", c->bootindex_net);
                c->bootindex_net = -1;
            }
        }
        if (ret == 0)
            ret = pci_address(c, n, &dv);
        if (ret == 0) {
            arg2(c, "-netdev", vs_buf_str(&nd));
            arg2(c, "-device", vs_buf_str(&dv));
        }
        vs_buf_reset(&nd);
        vs_buf_reset(&dv);
        free(type);
        free(mac);
        free(model);
        free(br);
    }
    return ret;
}

/* A chardev writing to a file (serial and console output). */
static void
chardev_file(ctx *c, const char *id, const char *path, bool append)
{
    vs_buf b = VS_BUF_INIT;

    vs_buf_addf(&b, "file,id=%s,path=", id);
    add_escaped(&b, path);
    if (append)
        vs_buf_add(&b, ",append=on");
    arg2(c, "-chardev", vs_buf_str(&b));
    vs_buf_reset(&b);
}

static int
serials(ctx *c, xmlNodePtr devs)
{
    xmlNodePtr n;
    int port = 0, ret = 0;
    bool any_serial = false;

    for (n = devs->children; n && ret == 0; n = n->next) {
        char *type, *path = NULL, *id;
        xmlNodePtr tgt, logn;
        bool append = false;

        if (!is_elem(n, "serial") && !(is_elem(n, "console") && !any_serial))
            continue;
        tgt = child(n, "target");
        if (is_elem(n, "console")) {
            /* A console on serial port 0 is that serial device; alone it is one. */
            char *tt = prop(tgt, "type");
            if (tt && strcmp(tt, "serial") != 0) {
                free(tt);
                ret = refuse(c, n, "only consoles of target type 'serial' are supported");
                break;
            }
            free(tt);
        } else {
            char *tt = prop(tgt, "type"), *mn = prop(child(tgt, "model"), "name");
            if ((tt && strcmp(tt, "isa-serial") != 0) || (mn && strcmp(mn, "isa-serial") != 0)) {
                free(tt);
                free(mn);
                ret = refuse(c, n, "only isa-serial ports are supported");
                break;
            }
            free(tt);
            free(mn);
            any_serial = true;
        }
        if (!c->pc) {
            ret = refuse(c, n, "serial ports are supported on x86 machines");
            break;
        }
        type = prop(n, "type");
        logn = child(n, "log");
        id = vs_xasprintf("charserial%d", port);
        if (logn) {
            path = prop(logn, "file");
            append = prop_is(logn, "append", "on");
        } else if (type && strcmp(type, "file") == 0) {
            path = prop(child(n, "source"), "path");
            append = prop_is(child(n, "source"), "append", "on");
        }
        if (type && strcmp(type, "null") == 0 && !logn) {
            argf(c, "-chardev");
            argf(c, "null,id=%s", id);
        } else if (!type || (strcmp(type, "pty") != 0 && strcmp(type, "file") != 0 &&
                             strcmp(type, "null") != 0)) {
            ret = refuse(c, n, "serial ports of type pty, file and null are supported");
        } else {
            /* vsnap has no console to attach to: a pty's output goes to a log */
            if (!path)
                path = vs_xasprintf("%s/serial%d.log", c->host->run_dir, port);
            chardev_file(c, id, path, append);
        }
        if (ret == 0) {
            argf(c, "-device");
            argf(c, "isa-serial,chardev=%s,id=serial%d,index=%d", id, port, port);
            port++;
        }
        free(type);
        free(path);
        free(id);
    }
    return ret;
}

static int
channels(ctx *c, xmlNodePtr devs)
{
    xmlNodePtr n;

    for (n = devs->children; n; n = n->next) {
        xmlNodePtr tgt;
        char *name;

        if (!is_elem(n, "channel"))
            continue;
        tgt = child(n, "target");
        name = prop(tgt, "name");
        if (!prop_is(n, "type", "unix") || !prop_is(tgt, "type", "virtio") || !name ||
            strcmp(name, "org.qemu.guest_agent.0") != 0 || c->out->agent) {
            free(name);
            return refuse(c, n, "the only channel vsnap supports is one unix guest agent channel "
                                "(org.qemu.guest_agent.0)");
        }
        free(name);
        if (!c->have_virtio_serial) {
            arg2(c, "-device", "virtio-serial-pci,id=virtio-serial0");
            c->have_virtio_serial = true;
        }
        /* The socket is vsnap's own (<domain>/run/agent.sock), whatever
         * path the definition names: libvirt's would be libvirt's. */
        argf(c, "-chardev");
        argf(c, "socket,id=charchannel0,fd=%d,server=on,wait=off", c->host->agent_fd);
        arg2(c, "-device", "virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,"
                           "id=channel0,name=org.qemu.guest_agent.0");
        c->out->agent = true;
    }
    return 0;
}

static int
inputs(ctx *c, xmlNodePtr devs)
{
    xmlNodePtr n;

    for (n = devs->children; n; n = n->next) {
        char *type, *bus;
        int ret = 0;

        if (!is_elem(n, "input"))
            continue;
        type = prop(n, "type");
        bus = prop(n, "bus");
        if (bus && strcmp(bus, "ps2") == 0 && c->pc && type &&
            (strcmp(type, "mouse") == 0 || strcmp(type, "keyboard") == 0)) {
            ;   /* a PC's built-in PS/2 devices */
        } else if (bus && strcmp(bus, "usb") == 0 && type &&
                   (strcmp(type, "tablet") == 0 || strcmp(type, "mouse") == 0 ||
                    strcmp(type, "keyboard") == 0)) {
            if (!c->have_usb)
                ret = refuse(c, n, "a USB input device needs a USB controller");
            else {
                argf(c, "-device");
                argf(c, "usb-%s,id=input%d,bus=usb.0",
                     strcmp(type, "keyboard") == 0 ? "kbd" : type, c->next_chardev++);
            }
        } else {
            ret = refuse(c, n, "only PS/2 mouse and keyboard and USB tablet, mouse and keyboard are supported");
        }
        free(type);
        free(bus);
        if (ret < 0)
            return -1;
    }
    return 0;
}

static int
graphics_and_video(ctx *c, xmlNodePtr devs)
{
    xmlNodePtr n, g = NULL, v = NULL;
    int ret = 0;

    for (n = devs->children; n; n = n->next) {
        if (is_elem(n, "graphics")) {
            if (g)
                return refuse(c, n, "vsnap supports one <graphics>");
            g = n;
        } else if (is_elem(n, "video")) {
            if (v)
                return refuse(c, n, "vsnap supports one <video>");
            v = n;
        } else if (is_elem(n, "audio")) {
            if (!prop_is(n, "type", "none"))
                return refuse(c, n, "only <audio type='none'> is supported");
        }
    }
    if (g) {
        char *type = prop(g, "type"), *port = prop(g, "port"), *listen = prop(g, "listen");
        char *auto_ = prop(g, "autoport"), *pw = prop(g, "passwd"), *km = prop(g, "keymap");
        xmlNodePtr ln = child(g, "listen");
        vs_buf b = VS_BUF_INIT;
        long p = -1;

        if (!type || strcmp(type, "vnc") != 0) {
            ret = refuse(c, g, "only VNC graphics are supported");
        } else {
            if (!listen && ln)
                listen = prop(ln, "address");
            if (ln && !prop_is(ln, "type", "address"))
                ret = refuse(c, ln, "only listen type='address' is supported");
            if (port)
                p = strtol(port, NULL, 10);
            if (ret == 0 && ((auto_ && strcmp(auto_, "yes") == 0) || p < 0)) {
                vs_buf_add(&b, listen ? listen : "127.0.0.1");
                vs_buf_add(&b, ":0,to=99");
            } else if (ret == 0 && (p < 5900 || p > 65535)) {
                ret = refuse(c, g, "the VNC port must be 5900 or above");
            } else if (ret == 0) {
                vs_buf_addf(&b, "%s:%ld", listen ? listen : "127.0.0.1", p - 5900);
            }
            if (ret == 0 && pw) {
                vs_buf_add(&b, ",password=on");
                c->out->vnc_password = vs_xstrdup(pw);
            }
            if (ret == 0) {
                arg2(c, "-vnc", vs_buf_str(&b));
                if (km)
                    arg2(c, "-k", km);
            }
        }
        vs_buf_reset(&b);
        free(type);
        free(port);
        free(listen);
        free(auto_);
        free(pw);
        free(km);
        if (ret < 0)
            return -1;
    } else {
        arg2(c, "-display", "none");
    }
    if (v) {
        char *model = prop(child(v, "model"), "type");
        vs_buf b = VS_BUF_INIT;

        if (!model || strcmp(model, "none") == 0) {
            ;
        } else if (strcmp(model, "vga") == 0 || strcmp(model, "cirrus") == 0 ||
                   strcmp(model, "virtio") == 0 || strcmp(model, "qxl") == 0 ||
                   strcmp(model, "bochs") == 0) {
            vs_buf_addf(&b, "%s,id=video0",
                        strcmp(model, "vga") == 0 ? "VGA" : strcmp(model, "cirrus") == 0 ? "cirrus-vga" :
                        strcmp(model, "virtio") == 0 ? "virtio-vga" : strcmp(model, "qxl") == 0 ?
                        "qxl-vga" : "bochs-display");
            if ((ret = pci_address(c, v, &b)) == 0)
                arg2(c, "-device", vs_buf_str(&b));
        } else {
            ret = refuse(c, child(v, "model"), "the video model must be vga, cirrus, virtio, qxl, bochs or none");
        }
        vs_buf_reset(&b);
        free(model);
        if (ret < 0)
            return -1;
    } else if (g) {
        arg2(c, "-device", "VGA,id=video0");
    }
    return 0;
}

static int
misc_devices(ctx *c, xmlNodePtr devs)
{
    xmlNodePtr n;
    int ret = 0;

    for (n = devs->children; n && ret == 0; n = n->next) {
        vs_buf b = VS_BUF_INIT;

        if (is_elem(n, "memballoon")) {
            if (prop_is(n, "model", "none"))
                continue;
            if (!prop_is(n, "model", "virtio")) {
                ret = refuse(c, n, "the balloon model must be virtio or none");
                continue;
            }
            vs_buf_add(&b, "virtio-balloon-pci,id=balloon0");
            if ((ret = pci_address(c, n, &b)) == 0)
                arg2(c, "-device", vs_buf_str(&b));
        } else if (is_elem(n, "rng")) {
            xmlNodePtr be = child(n, "backend");
            char *file = text_of(be);

            if (!prop_is(n, "model", "virtio") || !prop_is(be, "model", "random")) {
                ret = refuse(c, n, "only a virtio RNG with a random backend is supported");
            } else {
                vs_buf ob = VS_BUF_INIT;
                vs_buf_add(&ob, "rng-random,id=objrng0,filename=");
                add_escaped(&ob, file && *file ? file : "/dev/urandom");
                arg2(c, "-object", vs_buf_str(&ob));
                vs_buf_reset(&ob);
                vs_buf_add(&b, "virtio-rng-pci,rng=objrng0,id=rng0");
                if ((ret = pci_address(c, n, &b)) == 0)
                    arg2(c, "-device", vs_buf_str(&b));
            }
            free(file);
        }
        vs_buf_reset(&b);
    }
    return ret;
}

static int
seclabels(ctx *c, xmlNodePtr root)
{
    xmlNodePtr n;

    for (n = root->children; n; n = n->next) {
        if (is_elem(n, "seclabel") && !prop_is(n, "type", "none"))
            return refuse(c, n, "vsnap applies no security labels; only type='none' is accepted");
    }
    return 0;
}

static int
emulator(ctx *c, xmlNodePtr root)
{
    char *e = text_of(child(child(root, "devices"), "emulator"));

    if (e && *e) {
        arg(c, e);
    } else {
        argf(c, "qemu-system-%s", emulator_arch(c->arch ? c->arch : "x86_64"));
    }
    free(e);
    return 0;
}

static int
commandline(ctx *c, xmlNodePtr root)
{
    xmlNodePtr n, g;
    size_t nenv = 0;

    c->out->env = vs_xcalloc(1, sizeof(char *));
    for (n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || !n->ns || !n->ns->href ||
            !xmlStrEqual(n->ns->href, BAD_CAST QEMU_NS))
            continue;
        for (g = n->children; g; g = g->next) {
            char *v, *name;

            if (g->type != XML_ELEMENT_NODE)
                continue;
            v = prop(g, "value");
            if (xmlStrEqual(g->name, BAD_CAST "arg")) {
                if (!v) {
                    free(v);
                    return refuse(c, g, "it has no value");
                }
                arg(c, v);
            } else {
                name = prop(g, "name");
                if (!name || !*name || strchr(name, '=')) {
                    free(v);
                    free(name);
                    return refuse(c, g, "it has no valid name");
                }
                c->out->env = vs_xreallocarray(c->out->env, nenv + 2, sizeof(char *));
                c->out->env[nenv++] = vs_xasprintf("%s=%s", name, v ? v : "");
                c->out->env[nenv] = NULL;
                free(name);
            }
            free(v);
        }
    }
    return 0;
}

int
vs_qemu_launch_build(const vs_domain_def *def, const vs_qemu_host *host, vs_qemu_launch *out,
                     vs_error *err)
{
    xmlNodePtr root = xmlDocGetRootElement(def->doc), devs;
    ctx c;
    bool have_sata = false, have_scsi = false;
    vs_buf b = VS_BUF_INIT;
    size_t i;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    c.def = def;
    c.host = host;
    c.out = out;
    c.err = err;
    if (check_tree(&c, root, "") < 0)
        goto fail;
    devs = child(root, "devices");

    /* argv[0] first; machine() sets the arch emulator() needs, so build the
     * machine into a scratch context and splice. Simpler: read arch here. */
    {
        char *arch = prop(child(child(root, "os"), "type"), "arch");
        c.arch = arch && strcmp(arch, "i686") == 0 ? "i686" :
                 arch && strcmp(arch, "aarch64") == 0 ? "aarch64" : "x86_64";
        free(arch);
    }
    emulator(&c, root);
    vs_buf_add(&b, "guest=");
    add_escaped(&b, def->name);
    vs_buf_add(&b, ",debug-threads=on");
    arg2(&c, "-name", vs_buf_str(&b));
    vs_buf_reset(&b);
    arg(&c, "-S");
    if (host->incoming_defer)
        arg2(&c, "-incoming", "defer");
    arg(&c, "-no-user-config");
    arg(&c, "-nodefaults");
    if (machine(&c, root) < 0 || cpu_and_memory(&c, root) < 0)
        goto fail;
    if (def->uuid)
        arg2(&c, "-uuid", def->uuid);
    if (seclabels(&c, root) < 0 || clock_and_events(&c, root) < 0 ||
        boot_and_firmware(&c, root) < 0)
        goto fail;
    argf(&c, "-chardev");
    argf(&c, "socket,id=charmonitor,fd=%d,server=on,wait=off", host->monitor_fd);
    arg2(&c, "-mon", "chardev=charmonitor,id=monitor,mode=control");
    out->pidfile = vs_xasprintf("%s/pid", host->run_dir);
    arg2(&c, "-pidfile", out->pidfile);
    arg2(&c, "-msg", "timestamp=on");
    if (devs) {
        if (controllers(&c, devs, &have_sata, &have_scsi) < 0)
            goto fail;
        for (i = 0; i < def->ndisks; i++) {
            const char *bus = def->disks[i].bus;
            if (bus && strcmp(bus, "sata") == 0 && !have_sata && !c.q35) {
                arg2(&c, "-device", "ahci,id=sata0");
                have_sata = true;
            }
            if (bus && strcmp(bus, "scsi") == 0 && !have_scsi) {
                arg2(&c, "-device", "lsi53c895a,id=scsi0");
                have_scsi = true;
            }
        }
        for (i = 0; i < def->ndisks; i++)
            if (one_disk(&c, &def->disks[i]) < 0)
                goto fail;
        if (interfaces(&c, devs) < 0 || serials(&c, devs) < 0 || channels(&c, devs) < 0 ||
            inputs(&c, devs) < 0 || graphics_and_video(&c, devs) < 0 || misc_devices(&c, devs) < 0)
            goto fail;
    } else {
        arg2(&c, "-display", "none");
    }
    if (commandline(&c, root) < 0)
        goto fail;
    out->argv = c.argv;
    return 0;
 fail:
    vs_buf_reset(&b);
    vs_strv_free(c.argv);
    out->argv = NULL;
    vs_qemu_launch_clear(out);
    return -1;
}

void
vs_qemu_launch_clear(vs_qemu_launch *l)
{
    vs_strv_free(l->argv);
    vs_strv_free(l->env);
    free(l->nvram);
    free(l->nvram_template);
    free(l->vnc_password);
    free(l->pidfile);
    memset(l, 0, sizeof(*l));
}

void
vs_qemu_nvram(const vs_domain_def *def, char **vars, char **tmpl)
{
    xmlNodePtr root = def && def->doc ? xmlDocGetRootElement(def->doc) : NULL;
    xmlNodePtr nv = child(child(root, "os"), "nvram");

    *vars = text_of(nv);
    if (*vars && !**vars) {
        free(*vars);
        *vars = NULL;
    }
    *tmpl = prop(nv, "template");
}
